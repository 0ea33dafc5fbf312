import Foundation
import Logging
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

@testable import AuthHTTP

/// authd encodes its responses and orders pipelined requests itself (no `HTTPResponseEncoder`,
/// no `HTTPServerPipelineHandler`); these hold it to what those did.
@Suite("HTTP framing and pipelining")
struct HTTPFramingTests {
    private func request(
        _ method: String, _ path: String, headers: [(String, String)] = [], body: String? = nil, close: Bool = false
    ) -> String {
        var text = "\(method) \(path) HTTP/1.1\r\nhost: 127.0.0.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "content-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n" }
        if close { text += "connection: close\r\n" }
        return text + "\r\n" + (body ?? "")
    }

    @Test func pipelinedRequestsAreAnsweredInTheOrderTheyCame() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            let access = try #require(try await app.signUpAndLogIn("pipeliner")["accessToken"])
            // A slow request (a password hash) first, then ones answered at once or after Redis.
            let bytes =
                self.request("POST", "/login", body: #"{"username":"pipeliner","password":"correct horse battery"}"#)
                + self.request("GET", "/healthz", headers: [("x-request-id", "second")])
                + self.request("GET", "/me", headers: [("authorization", "Bearer \(access)")])
                + self.request("GET", "/nope")
                + self.request("GET", "/readyz", headers: [("x-request-id", "last")], close: true)
            let responses = try await app.client.rawResponses(Array(bytes.utf8))
            #expect(responses.map(\.status) == [200, 200, 200, 404, 200])
            guard responses.count == 5 else { return }
            #expect(responses[0]["refreshToken"] != nil)
            #expect(responses[1].headers["x-request-id"] == "second")
            #expect(responses[1]["status"] == "ok")
            #expect(responses[2]["username"] == "pipeliner")
            #expect(responses[3]["error"] == "not_found")
            #expect(responses[4].headers["x-request-id"] == "last")
            #expect(responses[4].headers["connection"] == "close")
            #expect(responses[0].headers["connection"] == nil)
        }
    }

    /// A client that sends its requests, then shuts its side down (`shutdown(SHUT_WR)`, as
    /// `nc -N` does), still gets every answer; the last says the connection closes, and it does.
    @Test func aHalfClosedClientGetsEveryAnswer() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            try await app.signUpAndLogIn("halfcloser")
            let bytes =
                self.request("POST", "/login", body: #"{"username":"halfcloser","password":"correct horse battery"}"#)
                + self.request("GET", "/healthz")
            let responses = try await app.client.rawResponses(Array(bytes.utf8), halfClose: true)
            #expect(responses.map(\.status) == [200, 200])
            guard responses.count == 2 else { return }
            #expect(responses[0]["refreshToken"] != nil)
            #expect(responses[0].headers["connection"] == nil)
            #expect(responses[1].headers["connection"] == "close")
        }
    }

    /// A request answered at once, its FIN close behind it: the answer waits for the end of the
    /// loop's turn to be flushed, and the half-close in the same turn must not drop it.
    @Test func aQuickAnswerIsNotLostToAHalfCloseRightBehindItsRequest() async throws {
        try await withTestApp { app in
            for _ in 0..<20 {
                let responses = try await app.client.rawResponses(
                    Array(self.request("GET", "/healthz").utf8), halfClose: true)
                #expect(responses.map(\.status) == [200])
            }
        }
    }

    @Test func aGETRouteAnswersHEADWithItsLengthButNoBody() async throws {
        let app = try await TestApp.start()
        try await withTeardown({ await app.stop() }) {
            // Were a body written after the HEAD answer, the next response would not parse.
            let access = try #require(try await app.signUpAndLogIn("header")["accessToken"])
            let bytes =
                self.request("HEAD", "/healthz") + self.request("GET", "/healthz")
                + self.request("HEAD", "/me", headers: [("authorization", "Bearer \(access)")])
                + self.request("HEAD", "/me") + self.request("HEAD", "/login", close: true)
            let responses = try await app.client.rawResponses(Array(bytes.utf8), bodiless: [0, 2, 3, 4])
            // A GET route answers HEAD as it answers GET, with no body; other routes still say 405.
            #expect(responses.map(\.status) == [200, 200, 200, 401, 405])
            guard responses.count == 5 else { return }
            #expect(responses[0].headers["content-length"] == String(#"{"status":"ok"}"#.utf8.count))
            #expect(responses[1].text == #"{"status":"ok"}"#)
            #expect(responses[3].headers["www-authenticate"] == #"Bearer realm="authd""#)
            #expect(responses[4].headers["allow"] == "POST")
            #expect(responses.allSatisfy { $0.headers["content-length"] != nil })
        }
    }

    @Test func aRequestWhoseBodyStopsShortGets408() async throws {
        // The 408 itself shows the deadline fired: the idle timeout (here 10 minutes) would close
        // the connection without an answer. The time bound only says "at its deadline, not at the
        // idle timeout", with room for a machine under load (17 s seen at a load average of 9).
        let app = try await TestApp.start {
            $0.http.requestReadTimeout = .milliseconds(300)
            $0.http.idleTimeout = .seconds(600)
        }
        try await withTeardown({ await app.stop() }) {
            let clock = ContinuousClock()
            let started = clock.now
            // The head promises ten bytes; three come, then nothing.
            let partial =
                "POST /token HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{\"t"
            let responses = try await app.client.rawResponses(Array(partial.utf8))
            #expect(responses.map(\.status) == [408])
            #expect(responses.first?["error"] == "invalid_request")
            #expect(clock.now - started < .seconds(120))
            // Behind a pipelined request that takes a while (a password hash), the same.
            let login = #"{"username":"nobody","password":"correct horse battery"}"#
            let behind =
                self.request("POST", "/login", body: login)
                + "POST /token HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n"
            #expect(try await app.client.rawResponses(Array(behind.utf8)).map(\.status) == [401, 408])
        }
    }

    @Test(arguments: [
        ("application/x-www-form-urlencoded", true), ("Application/X-WWW-Form-Urlencoded; charset=UTF-8", true),
        ("application/json", false), ("application/x-www-form", false), ("", false),
    ])
    func theFormContentTypeIsRecognisedWhateverItsCase(_ type: String, _ isForm: Bool) {
        let request = HTTPRequest(
            method: .POST, uri: "/token", headers: ["content-type": type], body: nil, logger: Logger(label: "test"))
        #expect(request.isForm == isForm)
    }

    private func encoded(_ response: HTTPResponse, isHead: Bool = false, keepAlive: Bool = true) -> String {
        let buffer = ResponseEncoder.encode(
            response, requestID: "r-1", keepAlive: keepAlive, isHeadRequest: isHead, allocator: ByteBufferAllocator())
        return String(decoding: buffer.readableBytesView, as: UTF8.self)
    }

    @Test func theEncoderFramesEveryResponse() {
        let ok = HTTPResponse(
            status: .ok, headers: ["content-type": "application/json"], body: ByteBuffer(string: "{}"))
        #expect(
            self.encoded(ok)
                == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
                + "x-content-type-options: nosniff\r\nx-request-id: r-1\r\n\r\n{}"
        )
        #expect(
            self.encoded(ok, isHead: true, keepAlive: false)
                == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n"
                + "x-content-type-options: nosniff\r\nx-request-id: r-1\r\n\r\n")
        // No length and no body where the status has none (RFC 9110 §8.6).
        #expect(
            self.encoded(.noContent)
                == "HTTP/1.1 204 No Content\r\nx-content-type-options: nosniff\r\nx-request-id: r-1\r\n\r\n")
        let large = HTTPResponse(status: .ok, body: ByteBuffer(repeating: UInt8(ascii: "a"), count: 12_345))
        #expect(self.encoded(large).contains("content-length: 12345\r\n"))
        let custom = HTTPResponse(status: .init(statusCode: 431, reasonPhrase: "Request Header Fields Too Large"))
        #expect(self.encoded(custom).hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"))
    }

    @Test func theEncoderDropsHeadersThatWouldSplitOrReframeTheResponse() {
        var headers: HTTPHeaders = ["content-type": "application/json"]
        headers.add(name: "x-bad", value: "a\r\nset-cookie: evil=1")
        headers.add(name: "x-nul", value: "a\u{0}b")
        headers.add(name: "bad name", value: "v")
        headers.add(name: "Content-Length", value: "999")
        headers.add(name: "transfer-encoding", value: "chunked")
        headers.add(name: "x-fine", value: "yes")
        let text = self.encoded(HTTPResponse(status: .ok, headers: headers, body: ByteBuffer(string: "{}")))
        #expect(
            text
                == "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-fine: yes\r\ncontent-length: 2\r\n"
                + "x-content-type-options: nosniff\r\nx-request-id: r-1\r\n\r\n{}")
    }
}
