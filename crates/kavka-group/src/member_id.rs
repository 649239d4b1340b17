//! Deterministic, seeded generation of UUID-like member ids (no clock, no OS randomness).

/// Produces `{client_id}-{uuid-like}` member ids from a seed the broker chooses.
#[derive(Debug, Clone)]
pub(crate) struct MemberIdGenerator {
    state: u64,
}

impl MemberIdGenerator {
    pub(crate) fn new(seed: u64) -> Self {
        MemberIdGenerator { state: seed }
    }

    /// splitmix64: tiny, well distributed, and reproducible in tests.
    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn next(&mut self, client_id: &str) -> String {
        let hi = self.next_u64();
        let lo = self.next_u64();
        // Shaped like a version-4 UUID, as Kafka's ids are.
        let hi = (hi & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let lo = (lo & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{client_id}-{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            hi >> 32,
            (hi >> 16) & 0xFFFF,
            hi & 0xFFFF,
            lo >> 48,
            lo & 0xFFFF_FFFF_FFFF
        )
    }
}
