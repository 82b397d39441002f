/// An XML document written into a string: the few kilobytes of an agent's meta-data.
///
/// It writes what libxml2's text writer wrote before it, byte for byte (an indented element per
/// line, `/>` for empty elements, the same escapes), so that meta-data did not change when the
/// agents stopped linking libxml2 and the 30 MB of ICU data it pulls into a static binary.
public struct XMLWriter {
    private var text = "<?xml version=\"1.0\"?>\n"
    private var depth = 0
    /// The start tag of the innermost element is written up to its attributes: `>` or `/>`
    /// follows once it is known whether children come.
    private var startTagOpen = false

    public init() {}

    /// Writes `<!DOCTYPE name SYSTEM "systemID" [internal subset]>`.
    /// - Parameter internalSubset: declarations added to the external DTD's, one per line.
    public mutating func doctype(_ name: String, systemID: String, internalSubset: [String] = []) {
        text += "<!DOCTYPE \(name) SYSTEM \"\(systemID)\""
        if !internalSubset.isEmpty {
            text += " [\n" + internalSubset.map { $0 + "\n" }.joined() + "]"
        }
        text += ">\n"
    }

    /// Writes one element with attributes; `content` writes its children.
    public mutating func element(_ name: String, _ attributes: [(String, String)] = [],
                          content: (inout XMLWriter) -> Void = { _ in }) {
        openChild()
        text += indentation + "<" + name + XMLWriter.attributes(attributes)
        startTagOpen = true
        depth += 1
        content(&self)
        depth -= 1
        if startTagOpen {
            text += "/>\n"
            startTagOpen = false
        } else {
            text += indentation + "</" + name + ">\n"
        }
    }

    /// Writes one element holding only text: `<name attr="…">text</name>`.
    public mutating func element(_ name: String, _ attributes: [(String, String)] = [], text content: String) {
        openChild()
        text += indentation + "<" + name + XMLWriter.attributes(attributes) + ">"
            + XMLWriter.escapeText(content) + "</" + name + ">\n"
    }

    /// The document.
    public var document: String { text }

    private var indentation: String { String(repeating: "  ", count: depth) }

    /// A child begins: the parent's start tag ends with `>` and a line break.
    private mutating func openChild() {
        if startTagOpen {
            text += ">\n"
            startTagOpen = false
        }
    }

    private static func attributes(_ attributes: [(String, String)]) -> String {
        attributes.map { " \($0.0)=\"\(escapeAttribute($0.1))\"" }.joined()
    }

    /// Text content: markup characters, the double quote and carriage returns as references.
    static func escapeText(_ value: String) -> String { escape(value, attribute: false) }

    /// Attribute values: also line breaks and tabs (an XML parser would normalise them to
    /// spaces) and every non-ASCII character as a character reference.
    static func escapeAttribute(_ value: String) -> String { escape(value, attribute: true) }

    private static func escape(_ value: String, attribute: Bool) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "&": escaped += "&amp;"
            case "\"": escaped += "&quot;"
            case "\r": escaped += "&#13;"
            case "\n" where attribute: escaped += "&#10;"
            case "\t" where attribute: escaped += "&#9;"
            case _ where attribute && !scalar.isASCII:
                escaped += "&#x" + String(scalar.value, radix: 16, uppercase: true) + ";"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
