/// A length of time as Pacemaker writes one: `1500ms`, `2s`, `1m`, or a bare number of seconds.
public struct Interval: OCFValue, Hashable, Comparable, CustomStringConvertible {
    public let duration: Duration

    public init(_ duration: Duration) { self.duration = duration }
    public static func milliseconds(_ value: Int) -> Interval { Interval(.milliseconds(value)) }
    public static func seconds(_ value: Int) -> Interval { Interval(.seconds(value)) }

    public init(ocfValue text: String) throws(ValueError) {
        let digits = text.prefix { $0.isASCII && $0.isNumber }
        let unit = text.dropFirst(digits.count)
        guard !digits.isEmpty, digits.count <= 9, let number = Int(digits) else {
            throw ValueError("'\(text)' is not a time (a number with ms, s or m: 500ms, 5s, 1m)")
        }
        switch unit {
        case "ms", "msec": duration = .milliseconds(number)
        case "", "s", "sec": duration = .seconds(number)
        case "m", "min": duration = .seconds(number * 60)
        default: throw ValueError("'\(text)': the unit is ms, s or m")
        }
    }

    public var milliseconds: Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    public var ocfValue: String {
        let ms = milliseconds
        if ms % 60_000 == 0 && ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
    public var description: String { ocfValue }
    public static var contentType: ContentType { .string }
    public static var valueDescription: String? { "A time: 500ms, 5s, 1m; a bare number is seconds." }
    public static func < (a: Interval, b: Interval) -> Bool { a.duration < b.duration }
}

extension Parameter where Value == Interval {
    /// An interval between two bounds.
    public init(wrappedValue: Interval, _ name: String, _ options: ParameterOptions = [],
                short: String, long: String, valid range: ClosedRange<Interval>) {
        self.init(wrappedValue: wrappedValue, name, options, short: short, long: long,
                  valid: { range.contains($0) ? nil : "must be between \(range.lowerBound) and \(range.upperBound)" })
    }
}
