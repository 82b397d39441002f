import FenceAgent
import Glibc

// libvirt runs this executable as its ssh program for +ssh URIs (see SSHSession).
let arguments = Array(CommandLine.arguments.dropFirst())
if let options = SSHSession.wrappedOptions(arguments: arguments) {
    SSHSession.execute(options: options, arguments: arguments)
}
FenceMain.main(LibvirtFencing.self)
