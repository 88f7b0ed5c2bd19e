import Testing
import WSScaleTestSupport

extension RealStackTests {
/// Tests of whole stacks with the balancer on the docker backend (the compose project, and
/// the balancer on the host with containers publishing on 127.0.0.1), driven through their
/// HTTP APIs on 127.0.0.1.
///
/// Nested in `RealStackTests`, so serialized with every other whole-stack test: every test
/// starts its own stack, and two stacks at once would compete for the machine's two cores and
/// blur the timing bounds. Needs the real image: with the busybox stand-in there is no
/// balancer to run.
@Suite("wsscale on Docker, whole stacks",
       .enabled(if: DockerTestEnvironment.isAvailable && DockerTestEnvironment.runsRealServer,
                "needs dockerd and the wsscale:local image, not the busybox stand-in (a SKIPPING or STAND-IN line above says why, or WSSCALE_DOCKER_TEST_IMAGE named another image)"))
enum DockerStackTests {}
}
