/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the key, or of its hash tag, mod 16384.
///
/// The hash tag is the text between the first `{` and the first `}` after it, when that text is
/// not empty: `authd:session:{alice}:x` and `authd:sessions:{alice}` share a slot, so one script
/// may touch both.
public enum ClusterSlot {
    public static let count = 16384

    public static func of(key: some Collection<UInt8>) -> Int {
        let bytes = Array(key)
        if let open = bytes.firstIndex(of: UInt8(ascii: "{")),
            let close = bytes[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1
        {
            return Int(self.crc16(bytes[(open + 1)..<close]) & 0x3FFF)
        }
        return Int(self.crc16(bytes[...]) & 0x3FFF)
    }

    public static func of(key: String) -> Int {
        self.of(key: Array(key.utf8))
    }

    static func crc16(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc = (crc << 8) ^ self.table[Int((crc >> 8) ^ UInt16(byte)) & 0xFF]
        }
        return crc
    }

    /// CRC16-CCITT (XMODEM), polynomial 0x1021, as Redis's `crc16.c`.
    private static let table: [UInt16] = (0..<256).map { index in
        var crc = UInt16(index) << 8
        for _ in 0..<8 {
            crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1
        }
        return crc
    }
}

extension RedisCommand {
    /// The command's first key, found from its name, for routing in a cluster; nil for a command
    /// that takes none (PING, SCRIPT, WAIT, CLUSTER, ...). Every key a command carries must share
    /// the first's slot, as Redis Cluster requires.
    var firstKey: ArraySlice<UInt8>? {
        let position: Int
        switch self.name.uppercased() {
        case "PING", "ECHO", "INFO", "SCRIPT", "CLUSTER", "ROLE", "CLIENT", "AUTH", "HELLO", "SELECT",
            "CONFIG", "DBSIZE", "FLUSHALL", "FLUSHDB", "TIME", "WAIT", "ASKING", "READONLY", "READWRITE",
            "SCAN", "KEYS", "COMMAND", "SLOWLOG", "LATENCY", "DEBUG", "SENTINEL", "MULTI", "EXEC", "DISCARD",
            "SAVE", "BGSAVE", "LASTSAVE", "FUNCTION", "ACL", "MONITOR", "PUBLISH", "SUBSCRIBE":
            return nil
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            // NAME script numkeys key ...: no key when numkeys is 0.
            guard let count = self.argument(2), count.elementsEqual("0".utf8) == false else { return nil }
            position = 3
        case "MEMORY", "OBJECT", "XINFO":
            position = 2
        default:
            position = 1
        }
        return self.argument(position)
    }
}
