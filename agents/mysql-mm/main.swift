import OCF

AgentMain.main(MasterMasterAgent.self) { _ in LiveDatabase() }
