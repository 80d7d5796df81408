//! Argon2id password hashing with bounded memory.
//!
//! Each hash needs 19 MiB of working memory. Allocating it per call lets the
//! allocator keep every thread's copy (logins on many blocking threads grew a
//! server by hundreds of MiB), so the memory comes from a small pool instead:
//! at most [`SLOTS`] hashes run at once, each in a buffer allocated once and
//! reused. This also bounds what a flood of logins can cost.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// OWASP's first recommended Argon2id setting: 19 MiB, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const OUTPUT_LEN: usize = 32;
/// Hashes computed at once.
const SLOTS: usize = 2;

fn params() -> Params {
    Params::new(M_COST_KIB, T_COST, 1, Some(OUTPUT_LEN)).unwrap_or_default()
}

struct Pool {
    /// Free buffers, and how many exist.
    state: Mutex<(Vec<Vec<Block>>, usize)>,
    freed: Condvar,
}

static POOL: Pool = Pool { state: Mutex::new((Vec::new(), 0)), freed: Condvar::new() };

fn lock() -> MutexGuard<'static, (Vec<Vec<Block>>, usize)> {
    POOL.state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` with `blocks` blocks of working memory: pooled for the standard
/// setting (waiting for a free buffer), allocated for an unusual stored one.
fn with_memory<R>(blocks: usize, f: impl FnOnce(&mut [Block]) -> R) -> R {
    if blocks != params().block_count() {
        return f(&mut vec![Block::default(); blocks]);
    }
    let mut buffer = {
        let mut state = lock();
        loop {
            if let Some(b) = state.0.pop() {
                break b;
            }
            if state.1 < SLOTS {
                state.1 += 1;
                break vec![Block::default(); blocks];
            }
            state = POOL.freed.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    };
    let result = f(&mut buffer);
    lock().0.push(buffer);
    POOL.freed.notify_one();
    result
}

/// A PHC-format Argon2id hash of `password` with a fresh salt.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buf)?;
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = [0u8; OUTPUT_LEN];
    with_memory(params.block_count(), |m| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, m)
    })?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches `phc`. A malformed hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::V0x13,
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buf) else { return false };
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = with_memory(params.block_count(), |m| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, m)
    });
    // `Output` compares in constant time.
    computed.is_ok() && Output::new(&out).is_ok_and(|o| o == expected)
}

/// A hash to verify against when the user does not exist, so that an unknown
/// username takes as long as a wrong password.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$3kd4TfGzWzrP4yXe8aTz8m2QFmB0ZoJ7iXH6hWWK8Vw";

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("landpatrol-demo").unwrap();
        let b = hash("landpatrol-demo").unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify("landpatrol-demo", &a));
        assert!(!verify("landpatrol-dem0", &a));
        assert!(!verify("x", "not a hash"));
        assert!(!verify("x", DUMMY_HASH));
    }

    #[test]
    fn hashes_made_by_the_argon2_crate_verify_and_the_other_way_round() {
        let salt = SaltString::generate(&mut OsRng);
        let theirs =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params()).hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify("pw", &theirs));
        assert!(!verify("pw2", &theirs));
        let ours = hash("pw").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2::PasswordVerifier::verify_password(&Argon2::default(), b"pw", &parsed).is_ok());
        // A stored hash with other parameters still verifies (with memory of its own).
        let small = Params::new(1024, 1, 1, None).unwrap();
        let other =
            Argon2::new(Algorithm::Argon2id, Version::V0x13, small).hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify("pw", &other));
    }

    #[test]
    fn many_threads_share_the_bounded_pool() {
        let handles: Vec<_> =
            (0..6).map(|i| std::thread::spawn(move || verify(&format!("p{i}"), DUMMY_HASH))).collect();
        for h in handles {
            assert!(!h.join().unwrap());
        }
        assert!(lock().1 <= SLOTS);
    }
}
