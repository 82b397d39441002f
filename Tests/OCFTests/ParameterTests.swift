import Addresses
import OCF
import Testing

@Suite struct ValueTests {
    @Test(arguments: ["yes", "true", "1", "YES", "TRUE", "True", "ja", "on", "ON"])
    func trueSpellings(_ text: String) throws { #expect(try Bool(ocfValue: text) == true) }

    @Test(arguments: ["no", "false", "0", "NO", "FALSE", "False", "nein", "off", "OFF"])
    func falseSpellings(_ text: String) throws { #expect(try Bool(ocfValue: text) == false) }

    @Test(arguments: ["maybe", "2", "y", "tru", "On ", " yes"])
    func unknownBooleansAreRefused(_ text: String) { #expect(throws: ValueError.self) { try Bool(ocfValue: text) } }

    @Test(arguments: ["1.5", "ten", "0x10", "99999999999999999999", "", "5 "])
    func integers(_ text: String) { #expect(throws: ValueError.self) { try Int(ocfValue: text) } }

    @Test func enumerationsListTheirValues() throws {
        #expect(try Fixture.Color(ocfValue: "red") == .red)
        #expect(Fixture.Color.valueDescription == "Allowed values: red, green, blue.")
        #expect(throws: ValueError.self) { try Fixture.Color(ocfValue: "Red") }
    }

    @Test func addresses() throws {
        #expect(try IPAddress(ocfValue: "2001:db8::1") == IPAddress("2001:db8::1"))
        #expect(throws: ValueError.self) { try IPAddress(ocfValue: "2001:db8::1/64") }
        #expect(throws: ValueError.self) { try InterfaceName(ocfValue: "eth0;id") }
    }
}

@Suite struct ParameterSetTests {
    @Test func declarationsInOrderWithDefaults() {
        let declarations = Fixture.Parameters.declarations
        #expect(declarations.map(\.name) == ["name", "count", "enabled", "color", "password"])
        #expect(declarations[0].isRequired && declarations[0].isUnique)
        #expect(declarations[1].defaultValue == "3" && declarations[1].contentType == .integer)
        #expect(declarations[2].defaultValue == "true" && declarations[2].contentType == .boolean)
        #expect(declarations[3].defaultValue == "green" && declarations[3].valueDescription != nil)
        #expect(declarations[4].defaultValue == nil && !declarations[4].isRequired && declarations[4].isSecret)
    }

    @Test func namesAreUnique() {
        let names = Fixture.Parameters.declarations.map(\.name)
        #expect(Set(names).count == names.count)
    }

    func load(_ values: [String: String]) throws(ParameterProblems) -> Fixture.Parameters {
        try Fixture.Parameters.load(from: Environment(Dictionary(uniqueKeysWithValues: values.map { ("OCF_RESKEY_" + $0.key, $0.value) })))
    }

    @Test func defaultsApplyAndEmptyMeansUnset() throws {
        let set = try load(["name": "a", "count": "", "password": ""])
        #expect(set.name == "a" && set.count == 3 && set.enabled && set.color == .green && set.password == nil)
    }

    @Test func configuredValuesParse() throws {
        let set = try load(["name": "b", "count": "7", "enabled": "no", "color": "blue", "password": "s3cret"])
        #expect(set.count == 7 && !set.enabled && set.color == .blue && set.password == "s3cret")
    }

    @Test func everyProblemIsReported() {
        #expect {
            try load(["count": "11", "enabled": "perhaps", "colour": "red"])
        } throws: { error in
            let problems = (error as? ParameterProblems)?.problems.map(\.parameter) ?? []
            return problems == ["name", "count", "enabled"]
        }
    }

    /// A name the agent does not declare is listed, never refused; Pacemaker's own variables
    /// and crmsh's tracing parameters are not names of the agent's.
    @Test func unknownNamesAreListedNotRefused() throws {
        let environment = Environment(["OCF_RESKEY_name": "a", "OCF_RESKEY_colour": "red", "OCF_RESKEY_trace_ra": "1",
                                       "OCF_RESKEY_trace_dir": "/tmp", "OCF_RESKEY_CRM_meta_interval": "0",
                                       "OCF_RESKEY_crm_feature_set": "3.16.1", "OCF_RESKEY_addr": "x"])
        #expect(try Fixture.Parameters.load(from: environment).name == "a")
        #expect(Fixture.Parameters.unknownNames(in: environment) == ["addr", "colour"])
    }

    @Test func secretsAreNeverEchoed() {
        #expect {
            try load(["name": "a", "password": "bad"])
        } throws: { error in
            (error as? ParameterProblems)?.description == "password: has an invalid value"
        }
    }

    @Test func pacemakersOwnVariablesAreNotParameters() throws {
        let environment = Environment(["OCF_RESKEY_name": "a", "OCF_RESKEY_CRM_meta_timeout": "20000",
                                       "OCF_RESKEY_crm_feature_set": "3.16.1"])
        #expect(try Fixture.Parameters.load(from: environment).name == "a")
    }

    @Test func crossParameterValidation() {
        #expect(throws: ParameterProblems.self) { try load(["name": "clash", "count": "6"]) }
    }
}
