import OCF

AgentMain.main(SyncDaemonAgent.self, host: ())
