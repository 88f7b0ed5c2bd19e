// The balancer HTTP API and wiring live here.
import WSScaleCore
