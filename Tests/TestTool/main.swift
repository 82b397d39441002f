// tandem-testtool: small fixtures for tests, so no test needs a shell.
//
//   tandem-testtool attribute-update NAME VALUE   node attributes against a real attrd (run
//   tandem-testtool attribute-delete NAME         inside a lab node, where attrd answers)
//   tandem-testtool exit CODE                     exit with CODE
//   tandem-testtool leave-child                   print "done" and exit, leaving a child that
//                                                 holds stdout open for 20 s
import Glibc
import OCF

let arguments = Array(CommandLine.arguments.dropFirst())
let attributes = NodeAttributes(deadline: .now + .seconds(20))
do {
    switch (arguments.first, arguments.count) {
    case ("attribute-update", 3): try attributes.update(arguments[1], to: arguments[2])
    case ("attribute-delete", 2): try attributes.delete(arguments[1])
    case ("exit", 2): exit(Int32(arguments[1]) ?? 255)
    case ("leave-child", 1):
        if fork() == 0 {
            sleep(for: .seconds(20))
            _exit(0)
        }
        print("done")
    default:
        print("usage: tandem-testtool attribute-update NAME VALUE | attribute-delete NAME | exit CODE | leave-child")
        exit(2)
    }
} catch {
    print("tandem-testtool: \(error)")
    exit(1)
}
