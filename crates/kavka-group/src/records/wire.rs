//! The primitive types of Kafka's generated message format, as coordinator records use
//! them: big-endian integers, classic (i16/i32 length) and compact (unsigned varint
//! length + 1) strings, bytes and arrays, UUIDs, and tagged-field sections.
//!
//! Written here rather than taken from `kafka-protocol`'s codecs because a record comes
//! off the disk, where any byte may be wrong: every length is checked against the bytes
//! left *before* anything is allocated, and every failure is a [`WireError`].

/// Why a record's bytes do not follow its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes end before the field does.
    #[error("truncated: {needed} bytes needed, {left} left")]
    Truncated {
        /// Bytes the field needs.
        needed: usize,
        /// Bytes left.
        left: usize,
    },
    /// A length is negative (and not the null marker) or larger than the bytes left.
    #[error("invalid length {0}")]
    Length(i64),
    /// A string is not UTF-8.
    #[error("string is not UTF-8")]
    Utf8,
    /// A varint runs past five bytes.
    #[error("varint too long")]
    Varint,
    /// A non-nullable field holds null.
    #[error("null where the schema has no null")]
    UnexpectedNull,
    /// A value version this schema does not have.
    #[error("unknown value version {0}")]
    Version(i16),
    /// Bytes are left after the last field.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// Reads fields in order from a record's bytes.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Fails unless every byte was read: a longer value means another schema.
    pub(crate) fn finish(&self) -> Result<(), WireError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing(self.buf.len()))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.buf.len() {
            return Err(WireError::Truncated {
                needed: n,
                left: self.buf.len(),
            });
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn i8(&mut self) -> Result<i8, WireError> {
        Ok(i8::from_be_bytes(self.array()?))
    }

    pub(crate) fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(self.array()?))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn uuid(&mut self) -> Result<[u8; 16], WireError> {
        self.array()
    }

    pub(crate) fn unsigned_varint(&mut self) -> Result<u32, WireError> {
        let mut value = 0u32;
        for i in 0..5 {
            let b = self.array::<1>()?[0];
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Varint)
    }

    /// A length that must fit in the bytes left, each element taking at least
    /// `min_element` bytes; checked before the caller allocates.
    fn checked_len(&self, len: i64, min_element: usize) -> Result<usize, WireError> {
        let n = usize::try_from(len).map_err(|_| WireError::Length(len))?;
        if n.saturating_mul(min_element.max(1)) > self.buf.len() {
            return Err(WireError::Length(len));
        }
        Ok(n)
    }

    /// A compact length: None for null (0), else the varint minus one.
    fn compact_len(&mut self) -> Result<Option<i64>, WireError> {
        let raw = self.unsigned_varint()?;
        Ok(raw.checked_sub(1).map(i64::from))
    }

    fn utf8(bytes: &[u8]) -> Result<String, WireError> {
        std::str::from_utf8(bytes)
            .map(str::to_string)
            .map_err(|_| WireError::Utf8)
    }

    /// STRING / NULLABLE_STRING: i16 length, -1 for null.
    pub(crate) fn nullable_string(&mut self) -> Result<Option<String>, WireError> {
        match i64::from(self.i16()?) {
            -1 => Ok(None),
            len => {
                let n = self.checked_len(len, 1)?;
                Self::utf8(self.take(n)?).map(Some)
            }
        }
    }

    pub(crate) fn string(&mut self) -> Result<String, WireError> {
        self.nullable_string()?.ok_or(WireError::UnexpectedNull)
    }

    /// COMPACT_NULLABLE_STRING.
    pub(crate) fn compact_nullable_string(&mut self) -> Result<Option<String>, WireError> {
        match self.compact_len()? {
            None => Ok(None),
            Some(len) => {
                let n = self.checked_len(len, 1)?;
                Self::utf8(self.take(n)?).map(Some)
            }
        }
    }

    pub(crate) fn compact_string(&mut self) -> Result<String, WireError> {
        self.compact_nullable_string()?
            .ok_or(WireError::UnexpectedNull)
    }

    /// BYTES: i32 length (not nullable in the schemas read here).
    pub(crate) fn bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let len = i64::from(self.i32()?);
        let n = self.checked_len(len, 1)?;
        Ok(self.take(n)?.to_vec())
    }

    pub(crate) fn compact_bytes(&mut self) -> Result<Vec<u8>, WireError> {
        let len = self.compact_len()?.ok_or(WireError::UnexpectedNull)?;
        let n = self.checked_len(len, 1)?;
        Ok(self.take(n)?.to_vec())
    }

    /// ARRAY: i32 count, each element read by `element` (at least one byte each).
    pub(crate) fn array_of<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        let len = i64::from(self.i32()?);
        let n = self.checked_len(len, 1)?;
        (0..n).map(|_| element(self)).collect()
    }

    /// COMPACT_NULLABLE_ARRAY.
    pub(crate) fn compact_nullable_array_of<T>(
        &mut self,
        mut element: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Option<Vec<T>>, WireError> {
        match self.compact_len()? {
            None => Ok(None),
            Some(len) => {
                let n = self.checked_len(len, 1)?;
                (0..n)
                    .map(|_| element(self))
                    .collect::<Result<_, _>>()
                    .map(Some)
            }
        }
    }

    pub(crate) fn compact_array_of<T>(
        &mut self,
        element: impl FnMut(&mut Self) -> Result<T, WireError>,
    ) -> Result<Vec<T>, WireError> {
        self.compact_nullable_array_of(element)?
            .ok_or(WireError::UnexpectedNull)
    }

    /// A tagged-field section: `known` reads the tags this schema has (given the tag
    /// and a reader over exactly its bytes); other tags are skipped, as Kafka does.
    pub(crate) fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader<'a>) -> Result<(), WireError>,
    ) -> Result<(), WireError> {
        let count = self.unsigned_varint()?;
        for _ in 0..count {
            let tag = self.unsigned_varint()?;
            let size = i64::from(self.unsigned_varint()?);
            let n = self.checked_len(size, 1)?;
            let mut field = Reader::new(self.take(n)?);
            known(tag, &mut field)?;
        }
        Ok(())
    }
}

/// Writes fields in order.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn i8(&mut self, v: i8) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub(crate) fn uuid(&mut self, v: &[u8; 16]) {
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn unsigned_varint(&mut self, mut v: u32) {
        while v >= 0x80 {
            // Truncation keeps the low seven bits, which is the point.
            self.buf.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// Lengths past the schema's integer are cut to it: Kavka never builds such values
    /// (group ids, topics and metadata are bounded far below by the broker).
    fn len_i16(len: usize) -> i16 {
        i16::try_from(len).unwrap_or(i16::MAX)
    }

    fn len_u32(len: usize) -> u32 {
        u32::try_from(len).unwrap_or(u32::MAX - 1)
    }

    pub(crate) fn string(&mut self, v: &str) {
        let len = Self::len_i16(v.len());
        self.i16(len);
        self.buf
            .extend_from_slice(&v.as_bytes()[..usize::try_from(len).unwrap_or(0)]);
    }

    pub(crate) fn nullable_string(&mut self, v: Option<&str>) {
        match v {
            None => self.i16(-1),
            Some(s) => self.string(s),
        }
    }

    pub(crate) fn compact_string(&mut self, v: &str) {
        let len = Self::len_u32(v.len());
        self.unsigned_varint(len + 1);
        self.buf
            .extend_from_slice(&v.as_bytes()[..usize::try_from(len).unwrap_or(0)]);
    }

    pub(crate) fn compact_nullable_string(&mut self, v: Option<&str>) {
        match v {
            None => self.unsigned_varint(0),
            Some(s) => self.compact_string(s),
        }
    }

    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.i32(i32::try_from(v.len()).unwrap_or(i32::MAX));
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn compact_bytes(&mut self, v: &[u8]) {
        self.unsigned_varint(Self::len_u32(v.len()) + 1);
        self.buf.extend_from_slice(v);
    }

    pub(crate) fn array_of<T>(&mut self, items: &[T], mut element: impl FnMut(&mut Self, &T)) {
        self.i32(i32::try_from(items.len()).unwrap_or(i32::MAX));
        for item in items {
            element(self, item);
        }
    }

    pub(crate) fn compact_array_of<T>(
        &mut self,
        items: &[T],
        mut element: impl FnMut(&mut Self, &T),
    ) {
        self.unsigned_varint(Self::len_u32(items.len()) + 1);
        for item in items {
            element(self, item);
        }
    }

    /// A tagged-field section from `(tag, encoded field)` pairs in tag order; fields
    /// at their default are left out by the caller, as Kafka leaves them out.
    pub(crate) fn tagged_fields(&mut self, fields: &[(u32, Vec<u8>)]) {
        self.unsigned_varint(Self::len_u32(fields.len()));
        for (tag, bytes) in fields {
            self.unsigned_varint(*tag);
            self.unsigned_varint(Self::len_u32(bytes.len()));
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Encodes one field on its own, for a tagged-field section.
    pub(crate) fn field(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::default();
        f(&mut w);
        w.buf
    }
}
