import OCF

AgentMain.main(VirtualIP.self, host: .live)
