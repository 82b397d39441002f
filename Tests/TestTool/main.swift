// tandem-testtool: drives pieces of the OCF library from inside a lab node, where the
// cluster's own tools answer (the test process itself runs outside the node).
//
//   tandem-testtool attribute-update NAME VALUE
//   tandem-testtool attribute-delete NAME
import Glibc
import OCF

let arguments = Array(CommandLine.arguments.dropFirst())
let attributes = NodeAttributes(deadline: .now + .seconds(20))
do {
    switch (arguments.first, arguments.count) {
    case ("attribute-update", 3): try attributes.update(arguments[1], to: arguments[2])
    case ("attribute-delete", 2): try attributes.delete(arguments[1])
    default:
        print("usage: tandem-testtool attribute-update NAME VALUE | attribute-delete NAME")
        exit(2)
    }
} catch {
    print("tandem-testtool: \(error)")
    exit(1)
}
