import OCF

AgentMain.main(VirtualIP.self) { VIPHost.live(deadline: $0.deadline) }
