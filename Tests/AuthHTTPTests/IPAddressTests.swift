import Testing

@testable import AuthHTTP

/// The addresses and networks of `AUTHD_TRUSTED_PROXIES`, as 16 bytes with IPv4 mapped into IPv6.
@Suite("IP addresses and networks")
struct IPAddressTests {
    @Test(arguments: [
        ("10.1.2.3", "10.1.2.3"), ("255.255.255.255", "255.255.255.255"), ("0.0.0.0", "0.0.0.0"),
        ("::ffff:10.0.0.1", "10.0.0.1"), ("2001:db8::1", "2001:db8::1"), ("2001:0DB8:0:0:0:0:0:0001", "2001:db8::1"),
        ("::1", "::1"), ("fe80::abcd:1234", "fe80::abcd:1234"),
    ])
    func parsesAndPrintsTheCanonicalForm(_ text: String, _ canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(address.bytes.count == 16)
        #expect(IPAddress(canonical) == address)
    }

    @Test func bytesAreInNetworkOrder() throws {
        #expect(
            try #require(IPAddress("10.1.2.3")).bytes == Array(repeating: 0, count: 10) + [0xFF, 0xFF, 10, 1, 2, 3])
        #expect(
            try #require(IPAddress("2001:db8::1")).bytes == [0x20, 0x01, 0x0D, 0xB8] + Array(repeating: 0, count: 11)
                + [1])
    }

    @Test(arguments: ["", "localhost", "10.0.0.1:80", "1.2.3", "300.1.1.1", "::g", String(repeating: "1", count: 46)])
    func refusesWhatIsNotAnAddress(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func networksContainTheirAddressesAndNoOthers() throws {
        let v4 = try #require(IPNetwork("10.0.0.0/8"))
        #expect(v4.contains(try #require(IPAddress("10.255.0.1"))))
        #expect(v4.contains(try #require(IPAddress("::ffff:10.0.0.1"))))
        #expect(!v4.contains(try #require(IPAddress("11.0.0.1"))))
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
    }
}
