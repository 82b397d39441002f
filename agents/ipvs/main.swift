import Netlink
import OCF

AgentMain.main(IPVSServiceAgent.self) { LiveKernel(deadline: $0.deadline) }
