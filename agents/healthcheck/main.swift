import Netlink
import OCF

AgentMain.main(HealthCheckAgent.self) { context in
    HealthCheckHost(kernel: LiveKernel(deadline: context.deadline), environment: context.environment)
}
