import Netlink
import OCF

AgentMain.main(SyncDaemonAgent.self, host: LiveKernel())
