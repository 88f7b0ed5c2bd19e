import Testing
import WSScaleCore
@testable import WSScaleBackends

/// Which labelled containers a container driver adopts: the pool's label is not enough, the
/// name must carry the pool's prefix and the image must be the configured one. Pure.
@Suite struct ContainerAdoptionTests {
    let configuration = ContainerDriverConfiguration(image: "wsscale:local", pool: "p1")

    func listing(name: String?, image: String?, instance: String? = "ws-1") -> ContainerListing {
        var labels = [ContainerLabel.pool: "p1"]
        labels[ContainerLabel.instance] = instance
        return ContainerListing(id: "abc", name: name, image: image, labels: labels, status: .running,
                                publishedPorts: [:], networkAddresses: [:])
    }

    @Test func namesContainersWithThePoolsPrefix() {
        #expect(configuration.namePrefix == "p1-")
        #expect(configuration.containerName("ws-1") == "p1-ws-1")
        #expect(ContainerSpecification.make(for: LaunchRequest(id: "ws-1"), configuration: configuration).name == "p1-ws-1")
    }

    @Test func adoptsItsOwnContainers() {
        #expect(ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: "wsscale:local"), configuration: configuration) == nil)
        #expect(ContainerInstanceMapping.instance(listing(name: "p1-ws-1", image: "wsscale:local"), configuration: configuration).id == "ws-1")
    }

    @Test func refusesALabelledContainerOutsideThePrefix() {
        let problem = ContainerInstanceMapping.adoptionProblem(listing(name: "intruder", image: "wsscale:local"), configuration: configuration)
        #expect(problem == #"its name "intruder" does not start with "p1-""#)
        #expect(ContainerInstanceMapping.adoptionProblem(listing(name: nil, image: "wsscale:local"), configuration: configuration) != nil)
    }

    @Test func refusesANameThatDoesNotMatchItsInstanceLabel() {
        let problem = ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: "wsscale:local", instance: "ws-2"),
                                                               configuration: configuration)
        #expect(problem == #"its label wsscale.instance does not match its name "p1-ws-1""#)
        #expect(ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: "wsscale:local", instance: nil),
                                                         configuration: configuration) != nil)
    }

    @Test func refusesAnotherImage() {
        let problem = ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: "evil:latest"), configuration: configuration)
        #expect(problem == #"it runs the image "evil:latest", not "wsscale:local""#)
        #expect(ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: nil), configuration: configuration) != nil)
        // An image id (the tag moved to a newer build) is not the configured image either.
        #expect(ContainerInstanceMapping.adoptionProblem(listing(name: "p1-ws-1", image: "sha256:0123abcd"), configuration: configuration) != nil)
    }

    @Test func comparesImagesAsEnginesWriteThem() {
        #expect(ContainerImageReference.same("localhost/wsscale:local", "wsscale:local"))
        #expect(ContainerImageReference.same("docker.io/library/debian", "debian:latest"))
        #expect(ContainerImageReference.same("registry.example:5000/team/app:1", "registry.example:5000/team/app:1"))
        #expect(!ContainerImageReference.same("wsscale:local", "wsscale:other"))
        #expect(!ContainerImageReference.same("evil/wsscale:local", "wsscale:local"))
        #expect(ContainerImageReference.normalized("registry.example:5000/app") == "registry.example:5000/app:latest")
    }
}
