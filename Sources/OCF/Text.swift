extension StringProtocol {
    /// Whether `other` occurs in this text, compared byte for byte. (The standard library's
    /// `contains` of a string in a string comes from _StringProcessing, which brings the regex
    /// engine, a megabyte and more, into every agent.)
    public func includes(_ other: some StringProtocol) -> Bool {
        let needle = Array(other.utf8)
        guard !needle.isEmpty else { return true }
        let haystack = Array(utf8)
        guard haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
