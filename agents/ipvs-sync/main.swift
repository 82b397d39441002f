import Netlink
import OCF

AgentMain.main(SyncDaemonAgent.self) { LiveKernel(deadline: $0.deadline) }
