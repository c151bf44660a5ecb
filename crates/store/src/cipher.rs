//! Encryption at rest for what users write: XChaCha20-Poly1305 with a fresh random nonce per
//! record, and the record's own key as associated data, so a record moved under another user's
//! key fails to decrypt instead of showing up in their recap.

use chacha20poly1305::{
    Key, XChaCha20Poly1305, XNonce,
    aead::{
        Aead, AeadCore, KeyInit, OsRng, Payload,
        rand_core::RngCore,
        stream::{DecryptorBE32, EncryptorBE32},
    },
};

/// The first byte of every sealed record, so the format can change without guessing.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
/// A STREAM nonce prefix: the nonce less STREAM's 32-bit counter and last-segment flag.
pub(crate) const STREAM_PREFIX_LEN: usize = NONCE_LEN - 5;

/// A 256-bit key. Its Debug never prints it.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

impl SecretKey {
    pub fn generate() -> SecretKey {
        SecretKey(XChaCha20Poly1305::generate_key(&mut OsRng).into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(bytes)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads the 64 hex digits a key file or the environment holds.
    pub fn from_hex(text: &str) -> Option<SecretKey> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(SecretKey(bytes.try_into().ok()?))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored record could not be decrypted: the key is wrong or the record is damaged")]
pub struct OpenError;

pub(crate) struct Cipher {
    aead: XChaCha20Poly1305,
}

impl Cipher {
    pub(crate) fn new(key: &SecretKey) -> Cipher {
        Cipher {
            aead: XChaCha20Poly1305::new(Key::from_slice(&key.0)),
        }
    }

    pub(crate) fn seal(&self, plaintext: &[u8], bound_to: &[u8]) -> Vec<u8> {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self
            .aead
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: bound_to,
                },
            )
            .expect("encryption cannot fail for in-memory buffers");
        let mut record = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        record.push(FORMAT_V1);
        record.extend_from_slice(&nonce);
        record.extend_from_slice(&ciphertext);
        record
    }

    /// A fresh random nonce prefix for [`Cipher::encryptor`]: one per stream, never reused.
    pub(crate) fn stream_prefix() -> [u8; STREAM_PREFIX_LEN] {
        let mut prefix = [0; STREAM_PREFIX_LEN];
        OsRng.fill_bytes(&mut prefix);
        prefix
    }

    /// RustCrypto's STREAM construction (Hoang, Reyhanitabar, Rogaway and Vizár's online AEAD)
    /// over this key: each segment is sealed with its position and whether it is the last in
    /// the nonce, so a reordered, repeated, dropped or truncated segment fails to open.
    pub(crate) fn encryptor(
        &self,
        prefix: &[u8; STREAM_PREFIX_LEN],
    ) -> EncryptorBE32<XChaCha20Poly1305> {
        EncryptorBE32::from_aead(self.aead.clone(), prefix.as_slice().into())
    }

    pub(crate) fn decryptor(
        &self,
        prefix: &[u8; STREAM_PREFIX_LEN],
    ) -> DecryptorBE32<XChaCha20Poly1305> {
        DecryptorBE32::from_aead(self.aead.clone(), prefix.as_slice().into())
    }

    pub(crate) fn open(&self, record: &[u8], bound_to: &[u8]) -> Result<Vec<u8>, OpenError> {
        let (&format, rest) = record.split_first().ok_or(OpenError)?;
        if format != FORMAT_V1 || rest.len() < NONCE_LEN {
            return Err(OpenError);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.aead
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: bound_to,
                },
            )
            .map_err(|_| OpenError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_record_opens_with_the_same_key_and_binding() {
        let cipher = Cipher::new(&SecretKey::generate());
        let record = cipher.seal(b"my words", b"key-1");
        assert_eq!(cipher.open(&record, b"key-1").unwrap(), b"my words");
    }

    #[test]
    fn the_same_text_seals_differently_each_time() {
        let cipher = Cipher::new(&SecretKey::generate());
        assert_ne!(cipher.seal(b"same", b"k"), cipher.seal(b"same", b"k"));
    }

    #[test]
    fn a_wrong_key_a_moved_record_or_a_flipped_bit_fails() {
        let cipher = Cipher::new(&SecretKey::generate());
        let record = cipher.seal(b"my words", b"key-1");
        assert!(
            Cipher::new(&SecretKey::generate())
                .open(&record, b"key-1")
                .is_err()
        );
        assert!(cipher.open(&record, b"key-2").is_err());
        let mut damaged = record.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(cipher.open(&damaged, b"key-1").is_err());
        assert!(cipher.open(&[], b"key-1").is_err());
        assert!(cipher.open(&record[..10], b"key-1").is_err());
    }

    #[test]
    fn keys_round_trip_through_hex_and_never_print() {
        let key = SecretKey::generate();
        let hex = key.to_hex();
        assert_eq!(hex.len(), 64);
        assert_eq!(SecretKey::from_hex(&hex).unwrap().0, key.0);
        assert!(SecretKey::from_hex("abcd").is_none());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_none());
        assert!(!format!("{key:?}").contains(&hex[..8]));
    }
}
