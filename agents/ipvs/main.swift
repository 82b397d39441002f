import Netlink
import OCF

AgentMain.main(IPVSServiceAgent.self, host: LiveKernel())
