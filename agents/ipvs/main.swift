import OCF

AgentMain.main(IPVSServiceAgent.self, host: ())
