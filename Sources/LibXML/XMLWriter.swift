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
    private let indent: Int
    private var indenting = false
    private var finished = false

    /// Starts a document, indented by `indent` spaces per level from the root element on.
    ///
    /// The declaration is a bare `<?xml version="1.0"?>` (UTF-8 by default): crmsh hands the
    /// text to lxml as a Python string, and lxml refuses strings that declare an encoding.
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
        self.indent = indent
        try check("xmlTextWriterStartDocument", xmlTextWriterStartDocument(writer, "1.0", nil, nil))
    }

    /// Indentation starts with the root element, so the prolog (declaration, DOCTYPE) keeps
    /// one line each, as resource-agents writes them.
    private func startIndenting() throws(XMLWriterError) {
        guard !indenting, indent > 0 else { return }
        indenting = true
        try check("xmlTextWriterSetIndent", xmlTextWriterSetIndent(writer, 1))
        try check("xmlTextWriterSetIndentString", xmlTextWriterSetIndentString(writer, String(repeating: " ", count: indent)))
    }

    deinit {
        // The writer must go first: it flushes into the buffer it does not own.
        xmlFreeTextWriter(writer)
        xmlBufferFree(buffer)
    }

    /// Writes `<!DOCTYPE name SYSTEM "systemID">`.
    public func doctype(_ name: String, systemID: String) throws(XMLWriterError) {
        try check("xmlTextWriterWriteDTD", xmlTextWriterWriteDTD(writer, name, nil, systemID, nil))
        try check("xmlTextWriterWriteRaw", xmlTextWriterWriteRaw(writer, "\n"))
    }

    /// Writes one element with attributes; `content` writes its children.
    public func element(_ name: String, _ attributes: [(String, String)] = [],
                        content: (XMLWriter) throws(XMLWriterError) -> Void = { _ throws(XMLWriterError) in })
        throws(XMLWriterError)
    {
        try startIndenting()
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
        try startIndenting()
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
