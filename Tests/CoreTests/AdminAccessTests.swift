import Foundation
import Testing
@testable import WSScaleCore

/// The admin credential and the gate every listener applies (pure).
@Suite struct AdminAccessTests {
    static let token = AdminToken("s3cret-token-0123456789")!
    static let gate = AdminGate(token: token)
    static let bearer = "Bearer s3cret-token-0123456789"

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var request: AdminRequest
        var access: AdminAccess
        var status: Int?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "open endpoint, nothing sent", request: AdminRequest(), access: .open, status: nil),
        Case(name: "read without a token", request: AdminRequest(), access: .credential, status: 401),
        Case(name: "read with the token", request: AdminRequest(authorization: bearer), access: .credential, status: nil),
        Case(name: "lower-case scheme", request: AdminRequest(authorization: "bearer s3cret-token-0123456789"), access: .credential, status: nil),
        Case(name: "wrong token", request: AdminRequest(authorization: "Bearer s3cret-token-012345678"), access: .mutation, status: 401),
        Case(name: "token with a suffix", request: AdminRequest(authorization: bearer + "0"), access: .mutation, status: 401),
        Case(name: "basic instead of bearer", request: AdminRequest(authorization: "Basic czNjcmV0"), access: .mutation, status: 401),
        Case(name: "the bare token", request: AdminRequest(authorization: "s3cret-token-0123456789"), access: .mutation, status: 401),
        Case(name: "POST without a body or content type", request: AdminRequest(authorization: bearer), access: .mutation, status: nil),
        Case(name: "POST with JSON", request: AdminRequest(authorization: bearer, contentType: "application/json; charset=utf-8", hasBody: true),
             access: .mutation, status: nil),
        Case(name: "POST with a form body", request: AdminRequest(authorization: bearer, contentType: "application/x-www-form-urlencoded", hasBody: true),
             access: .mutation, status: 415),
        Case(name: "POST text/plain (a 'simple' cross-site request)", request: AdminRequest(authorization: bearer, contentType: "text/plain", hasBody: true),
             access: .mutation, status: 415),
        Case(name: "POST with a body and no content type", request: AdminRequest(authorization: bearer, hasBody: true), access: .mutation, status: 415),
        Case(name: "same origin", request: AdminRequest(authorization: bearer, origin: "http://127.0.0.1:8489", host: "127.0.0.1:8489"),
             access: .mutation, status: nil),
        Case(name: "same origin, default port", request: AdminRequest(authorization: bearer, origin: "http://ops.example", host: "ops.example:80"),
             access: .mutation, status: nil),
        Case(name: "foreign origin, even with the token", request: AdminRequest(authorization: bearer, origin: "http://evil.example", host: "127.0.0.1:8489"),
             access: .mutation, status: 403),
        Case(name: "DNS rebinding: same port, other name", request: AdminRequest(authorization: bearer, origin: "http://rebind.evil:8489", host: "127.0.0.1:8489"),
             access: .mutation, status: 403),
        Case(name: "origin null", request: AdminRequest(authorization: bearer, origin: "null", host: "127.0.0.1:8489"), access: .mutation, status: 403),
        Case(name: "foreign origin without a token", request: AdminRequest(origin: "http://evil.example", host: "127.0.0.1:8089"), access: .mutation, status: 403),
    ]

    @Test(arguments: cases)
    func gate(_ example: Case) {
        #expect(Self.gate.refusal(for: example.request, access: example.access)?.status == example.status)
    }

    @Test("with no token configured, admin endpoints refuse everyone and open ones stay open")
    func noTokenConfigured() {
        let gate = AdminGate(token: nil)
        #expect(gate.refusal(for: AdminRequest(authorization: Self.bearer), access: .credential)?.status == 403)
        #expect(gate.refusal(for: AdminRequest(authorization: Self.bearer), access: .mutation)?.status == 403)
        #expect(gate.refusal(for: AdminRequest(), access: .open) == nil)
    }

    @Test("a refusal never shows the token, and neither does the token's description")
    func neverShown() {
        let refusal = Self.gate.refusal(for: AdminRequest(authorization: "Bearer wrong-wrong-wrong-wrong"), access: .mutation)
        #expect(refusal?.reason.contains(Self.token.value) == false)
        #expect(!"\(Self.token)".contains(Self.token.value))
    }

    @Test(arguments: ["short", String(repeating: "a", count: 513), "has a space inside it!", "tab\tinside-the-token", "ümlaut-token-0123456789"])
    func badTokens(text: String) {
        #expect(AdminToken(text) == nil)
        var reader = EnvironmentReader(environment: ["WSSCALE_ADMIN_TOKEN": text])
        #expect(AdminToken.read(from: &reader) == nil)
        #expect(reader.issues.map(\.variable) == ["WSSCALE_ADMIN_TOKEN"])
    }

    @Test("generated tokens are 64 hex digits and differ")
    func generated() {
        let first = AdminToken.generate(), second = AdminToken.generate()
        #expect(first.value.count == 64 && first.value.allSatisfy(\.isHexDigit))
        #expect(first != second)
    }

    @Test("a token file: read when private, refused when world-readable, both variables refused")
    func tokenFile() throws {
        let path = NSTemporaryDirectory() + "wsscale-token-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        FileManager.default.createFile(atPath: path, contents: Data("  \(Self.token.value)\n".utf8), attributes: [.posixPermissions: 0o600])
        var reader = EnvironmentReader(environment: ["WSSCALE_ADMIN_TOKEN_FILE": path])
        #expect(AdminToken.read(from: &reader) == Self.token)
        #expect(reader.issues.isEmpty)

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        reader = EnvironmentReader(environment: ["WSSCALE_ADMIN_TOKEN_FILE": path])
        #expect(AdminToken.read(from: &reader) == nil)
        #expect(reader.issues.first?.message.contains("readable by every user") == true)

        reader = EnvironmentReader(environment: ["WSSCALE_ADMIN_TOKEN_FILE": path, "WSSCALE_ADMIN_TOKEN": Self.token.value])
        #expect(AdminToken.read(from: &reader) == nil)
        #expect(reader.issues.map(\.variable) == ["WSSCALE_ADMIN_TOKEN_FILE"])

        reader = EnvironmentReader(environment: ["WSSCALE_ADMIN_TOKEN_FILE": path + ".missing"])
        #expect(AdminToken.read(from: &reader) == nil)
        #expect(reader.issues.map(\.variable) == ["WSSCALE_ADMIN_TOKEN_FILE"])
    }
}
