import Foundation
import Testing
import WSScaleTestSupport
@testable import WSScaleClient
import WSScaleCore

extension ClientHTTPAPITests {
    @Test("CLIENT_MAX_USERS: disconnected users are forgotten to make room; a batch that does not fit gets 409 and changes nothing")
    func theSimulatorHoldsAtMostMaxUsers() async throws {
        let server = try await TestWebSocketServer.start(hostID: "h")
        defer { Task { await server.stop() } }
        try await withSimulator(server, maxUsers: 3) { simulator, base in
            let connect = "route/kickstart/ws/batch/connect", disconnect = "route/kickstart/ws/batch/disconnect"
            let (first, _) = try await request(base, "POST", connect, body: #"{"userIds": ["u1", "u2", "u3"]}"#)
            #expect(first == 202)
            try await TestSupport.waitUntil("three connected", timeout: nil) { server.openConnections == 3 }

            let (full, answer) = try await request(base, "POST", connect, body: #"{"userIds": ["u4"]}"#)
            #expect(full == 409)
            #expect((answer["error"] as? String)?.contains("at most 3 users") == true, "\(answer)")
            #expect(await simulator.status().users.count == 3)

            let (left, _) = try await request(base, "POST", disconnect, body: #"{"userIds": ["u1"]}"#)
            #expect(left == 202)
            try await TestSupport.waitUntil("u1 closed", timeout: nil) { server.openConnections == 2 }
            let (room, _) = try await request(base, "POST", connect, body: #"{"userIds": ["u4"]}"#)
            #expect(room == 202)
            try await TestSupport.waitUntil("u4 connected", timeout: nil) { server.openConnections == 3 }
            let users = Set(await simulator.status().users.map(\.userId))
            #expect(users == ["u2", "u3", "u4"], "u1 was disconnected: it made room")
        }
        await server.stop()
    }
}
