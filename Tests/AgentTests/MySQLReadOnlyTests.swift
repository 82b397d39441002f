import MySQLClient
import MySQLReplication
import OCF
import Testing
@testable import mysql_mm

/// What mysql-mm sends to make a server read-only for every client. MariaDB's is tested against
/// real servers (IntegrationTests); Debian 12 has no MySQL 8 server, so MySQL's statement is
/// checked here, at the seam.
@Suite struct MySQLReadOnlyTests {
    @Test func superReadOnlyOnMySQLReadOnlyOnMariaDB() {
        #expect(LocalServer.readOnlyStatement(.mySQL) == "SET GLOBAL super_read_only = ON", "read_only alone lets SUPER write on MySQL")
        #expect(LocalServer.readOnlyStatement(.mariaDB) == "SET GLOBAL read_only = ON", "MariaDB has no super_read_only")
    }

    /// The ways a start saw the server, kept in its record: what proves it down or reaches it.
    @Test func theRecordKeepsWhereTheServerLives() throws {
        var record = Record(endpoint: .socket("/run/mysqld/mysqld.sock"), credentialsFile: "/etc/tandem/mysql-mm.cnf",
                            readerAttribute: "readable", writerAttribute: nil, promoted: true)
        record.note(ServerPlacement(dataDirectory: "/var/lib/mysql", socket: "/run/mysqld/mysqld.sock", tcp: .tcp(host: "::1", port: 3306)))
        let file = StateFile(path: "/tmp/tandem-mm-record-\(UInt32.random(in: 0...UInt32.max))")
        defer { try? file.remove() }
        try record.save(to: file)
        let loaded = try #require(try Record.load(from: file))
        #expect(loaded == record)
        #expect(loaded.otherEndpoints(than: .socket("/run/mysqld/mysqld.sock")) == [.tcp(host: "::1", port: 3306)])
    }
}
