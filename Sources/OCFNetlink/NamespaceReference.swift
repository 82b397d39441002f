import OCF

/// A network namespace parameter: a name in /run/netns (as `ip netns add` makes them) or an
/// absolute path such as /proc/PID/ns/net.
public struct NamespaceReference: OCFValue, Hashable {
    public let path: String

    public init(ocfValue text: String) throws(ValueError) {
        if text.hasPrefix("/") {
            guard !text.split(separator: "/").contains(".."), !text.contains("\n") else {
                throw ValueError("'\(text)' is not a usable namespace path")
            }
            path = text
        } else {
            let allowed = text.unicodeScalars.allSatisfy {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_.-".unicodeScalars.contains($0))
            }
            guard allowed, (1...64).contains(text.count), text != ".", text != ".." else {
                throw ValueError("'\(text)' is not a namespace name (letters, digits, _ . -) or an absolute path")
            }
            path = "/run/netns/" + text
        }
    }

    /// A reference to a recorded path.
    public init(path: String) { self.path = path }

    public var ocfValue: String { path }
    public static var contentType: ContentType { .string }
}
