import OCFTesting
import Testing
@testable import OCF

@Suite struct XMLWriterTests {
    /// The layout libxml2's text writer gave meta-data: one indented element per line, `/>` for
    /// empty elements, text inline, no encoding in the declaration (lxml refuses it in a string).
    @Test func layout() {
        var xml = XMLWriter()
        xml.doctype("r", systemID: "r.dtd")
        xml.element("r", [("name", "x")]) { xml in
            xml.element("text", [("lang", "en")], text: "a")
            xml.element("empty", [("type", "string")])
            xml.element("none") { _ in }
            xml.element("outer") { xml in xml.element("inner", text: "") }
        }
        #expect(xml.document == """
            <?xml version="1.0"?>
            <!DOCTYPE r SYSTEM "r.dtd">
            <r name="x">
              <text lang="en">a</text>
              <empty type="string"/>
              <none/>
              <outer>
                <inner></inner>
              </outer>
            </r>

            """)
    }

    /// Whatever the text, a real XML parser (lxml, as crmsh uses it) reads back exactly the
    /// attribute values and text that were written.
    @Test func valuesSurviveAParser() throws {
        let values = ["a<b>&\"c'", "x\ny\tz\rw", "é ü € 𝄞", "", "]]>", "&amp;", "<!-- -->"]
        var xml = XMLWriter()
        xml.element("r") { xml in
            for value in values { xml.element("e", [("a", value)], text: value) }
        }
        let script = """
            import sys, json
            from lxml import etree
            root = etree.fromstring(sys.stdin.read())
            print(json.dumps([[e.get("a"), e.text or ""] for e in root]))
            """
        let result = try Command("/usr/bin/python3", ["-c", script], input: Array(xml.document.utf8))
            .run(deadline: .now + .seconds(30))
        #expect(result.status == 0, "\(result.errorOutput)")
        let expected = values.map { "[\(json($0)), \(json($0))]" }
        #expect(result.output.trimmingSuffix == "[" + expected.joined(separator: ", ") + "]")
    }

    /// JSON text as Python's json.dumps writes it (ASCII only).
    func json(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.isASCII {
                    out.unicodeScalars.append(scalar)
                } else if scalar.value > 0xFFFF {
                    let v = scalar.value - 0x10000
                    out += String(format4: 0xD800 + (v >> 10)) + String(format4: 0xDC00 + (v & 0x3FF))
                } else {
                    out += String(format4: scalar.value)
                }
            }
        }
        return out + "\""
    }
}

extension String {
    init(format4 value: UInt32) {
        let hex = String(value, radix: 16)
        self = "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
    var trimmingSuffix: String {
        var text = self
        while text.last == "\n" { text.removeLast() }
        return text
    }
}
