import JOSE
import Testing

/// Device tokens (issue 28, item 6): bound to the user and the deployment's secret, honoured for
/// their lifetime, and refused whatever else an attacker sends, without trapping.
@Suite("Device tokens")
struct DeviceTokensTests {
    let devices = DeviceTokens(refreshSecret: RandomID.hexBytes(32))
    let now = 1_700_000_000

    @Test func aTokenNamesItsDeviceForItsUserOnly() throws {
        let token = self.devices.issue(username: "alice", now: self.now)
        let device = try #require(self.devices.device(of: token, username: "alice", now: self.now + 60))
        #expect(device.utf8.count == 32)
        #expect(self.devices.device(of: token, username: "bob", now: self.now) == nil)
        #expect(
            DeviceTokens(refreshSecret: RandomID.hexBytes(32)).device(of: token, username: "alice", now: self.now)
                == nil)
        // Renewed for the same device.
        let renewed = self.devices.issue(username: "alice", device: device, now: self.now + 100)
        #expect(self.devices.device(of: renewed, username: "alice", now: self.now + 100) == device)
    }

    @Test func aTokenIsHonouredForItsLifetimeOnly() {
        let token = self.devices.issue(username: "alice", now: self.now)
        #expect(self.devices.device(of: token, username: "alice", now: self.now + DeviceTokens.lifetime) != nil)
        #expect(self.devices.device(of: token, username: "alice", now: self.now + DeviceTokens.lifetime + 1) == nil)
        #expect(self.devices.device(of: token, username: "alice", now: self.now - 61) == nil, "issued in the future")
    }

    @Test func anythingElseIsRefused() {
        let token = self.devices.issue(username: "alice", now: self.now)
        let parts = token.split(separator: ".").map(String.init)
        let forged = [
            "", "d1", "d1...", "d2." + parts.dropFirst().joined(separator: "."),
            "d1.\(parts[1]).\(self.now + 1).\(parts[3])",  // another time under the same MAC
            "d1.\(String(repeating: "0", count: 32)).\(parts[2]).\(parts[3])",
            "d1.\(parts[1]).99999999999999999999.\(parts[3])", "d1.\(parts[1]).-1.\(parts[3])",
            "d1.\(parts[1].uppercased()).\(parts[2]).\(parts[3])", token + "A", token + ".x",
            String(repeating: "d", count: 10_000),
        ]
        for candidate in forged {
            #expect(
                self.devices.device(of: candidate, username: "alice", now: self.now) == nil, "\(candidate.prefix(80))")
        }
    }
}
