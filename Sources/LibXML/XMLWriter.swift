internal import CLibXML2

/// A failed libxml2 writer call.
public struct XMLWriterError: Error, Sendable, CustomStringConvertible {
    /// The libxml2 function that returned an error, e.g. `xmlTextWriterStartElement`.
    public let function: String
    public var description: String { "\(function) failed" }
}

/// An XML document written into memory by libxml2's text writer, which escapes every
/// attribute value and text node (`<`, `&`, quotes) as it writes.
///
/// The one owner of an `xmlTextWriter` and its `xmlBuffer`.
public final class XMLWriter {
    private let buffer: xmlBufferPtr
    private let writer: xmlTextWriterPtr
    private var finished = false

    /// Starts a UTF-8 document, indented by `indent` spaces per level.
    /// - Throws: `XMLWriterError` naming `xmlBufferCreate`, `xmlNewTextWriterMemory` or
    ///   `xmlTextWriterStartDocument`.
    public init(indent: Int = 2) throws(XMLWriterError) {
        guard let buffer = xmlBufferCreate() else { throw XMLWriterError(function: "xmlBufferCreate") }
        guard let writer = xmlNewTextWriterMemory(buffer, 0) else {
            xmlBufferFree(buffer)
            throw XMLWriterError(function: "xmlNewTextWriterMemory")
        }
        self.buffer = buffer
        self.writer = writer
        if indent > 0 {
            try check("xmlTextWriterSetIndent", xmlTextWriterSetIndent(writer, 1))
            let spaces = String(repeating: " ", count: indent)
            try check("xmlTextWriterSetIndentString", xmlTextWriterSetIndentString(writer, spaces))
        }
        try check("xmlTextWriterStartDocument", xmlTextWriterStartDocument(writer, "1.0", "UTF-8", nil))
    }

    deinit {
        // The writer must go first: it flushes into the buffer it does not own.
        xmlFreeTextWriter(writer)
        xmlBufferFree(buffer)
    }

    /// Writes `<!DOCTYPE name SYSTEM "systemID">`.
    public func doctype(_ name: String, systemID: String) throws(XMLWriterError) {
        try check("xmlTextWriterWriteDTD", xmlTextWriterWriteDTD(writer, name, nil, systemID, nil))
    }

    /// Writes one element with attributes; `content` writes its children.
    public func element(_ name: String, _ attributes: [(String, String)] = [],
                        content: (XMLWriter) throws(XMLWriterError) -> Void = { _ throws(XMLWriterError) in })
        throws(XMLWriterError)
    {
        try check("xmlTextWriterStartElement", xmlTextWriterStartElement(writer, name))
        for (key, value) in attributes {
            try check("xmlTextWriterWriteAttribute", xmlTextWriterWriteAttribute(writer, key, value))
        }
        try content(self)
        try check("xmlTextWriterEndElement", xmlTextWriterEndElement(writer))
    }

    /// Writes one element holding only text: `<name attr="…">text</name>`.
    public func element(_ name: String, _ attributes: [(String, String)] = [], text: String)
        throws(XMLWriterError)
    {
        try check("xmlTextWriterStartElement", xmlTextWriterStartElement(writer, name))
        for (key, value) in attributes {
            try check("xmlTextWriterWriteAttribute", xmlTextWriterWriteAttribute(writer, key, value))
        }
        try check("xmlTextWriterWriteString", xmlTextWriterWriteString(writer, text))
        try check("xmlTextWriterEndElement", xmlTextWriterEndElement(writer))
    }

    /// Ends the document and returns it.
    /// - Throws: `XMLWriterError` naming `xmlTextWriterEndDocument` or `xmlTextWriterFlush`.
    public func finish() throws(XMLWriterError) -> String {
        if !finished {
            try check("xmlTextWriterEndDocument", xmlTextWriterEndDocument(writer))
            try check("xmlTextWriterFlush", xmlTextWriterFlush(writer))
            finished = true
        }
        guard let content = xmlBufferContent(buffer) else { return "" }
        return String(cString: content)
    }

    private func check(_ function: String, _ code: Int32) throws(XMLWriterError) {
        if code < 0 { throw XMLWriterError(function: function) }
    }
}
