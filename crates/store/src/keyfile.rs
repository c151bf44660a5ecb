//! Where the encryption key comes from, and what happens when it is missing.
//!
//! The rule that protects data: a key is created only for a database that has never held
//! encrypted records. A database that has, and no key, is an error that names the file to
//! restore; nothing is ever re-keyed or overwritten to "recover".

use std::{
    fs,
    io::Write,
    path::{Path, PathBuf},
};

use super::cipher::SecretKey;

/// The environment variable that may hold the key (64 hex digits) instead of a file.
pub const KEY_ENV: &str = "CROSSROADS_KEY";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "the database already holds encrypted replies, but there is no key: {path} does not exist and {KEY_ENV} is not set. \
         Restore the key file from your backup (or set {KEY_ENV}); without it the replies cannot be read. Nothing was changed."
    )]
    Missing { path: PathBuf },
    #[error("{source_name} does not hold a key: it must be 64 hexadecimal digits (32 bytes)")]
    Malformed { source_name: String },
    #[error("cannot read the key file {path}: {error}")]
    Unreadable {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot create the key file {path}: {error}")]
    Uncreatable {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// Where the key came from, for the log line at start (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOrigin {
    Environment,
    File(PathBuf),
    Created(PathBuf),
}

pub(crate) fn resolve(
    key_file: &Path,
    from_env: Option<String>,
    database_has_records: bool,
) -> Result<(SecretKey, KeyOrigin), KeyError> {
    if let Some(value) = from_env.filter(|value| !value.trim().is_empty()) {
        let key = SecretKey::from_hex(&value).ok_or_else(|| KeyError::Malformed {
            source_name: KEY_ENV.to_owned(),
        })?;
        return Ok((key, KeyOrigin::Environment));
    }
    match fs::read_to_string(key_file) {
        Ok(text) => {
            let key = SecretKey::from_hex(&text).ok_or_else(|| KeyError::Malformed {
                source_name: key_file.display().to_string(),
            })?;
            Ok((key, KeyOrigin::File(key_file.to_owned())))
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            if database_has_records {
                return Err(KeyError::Missing {
                    path: key_file.to_owned(),
                });
            }
            let key = SecretKey::generate();
            write_new_key_file(key_file, &key).map_err(|error| KeyError::Uncreatable {
                path: key_file.to_owned(),
                error,
            })?;
            Ok((key, KeyOrigin::Created(key_file.to_owned())))
        }
        Err(error) => Err(KeyError::Unreadable {
            path: key_file.to_owned(),
            error,
        }),
    }
}

/// Creates the file only if it does not exist, readable by its owner alone.
pub(crate) fn write_new_key_file(path: &Path, key: &SecretKey) -> std::io::Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        fs::create_dir_all(parent)?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(key.to_hex().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_key_file_for_a_new_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/crossroads.key");
        let (key, origin) = resolve(&path, None, false).unwrap();
        assert_eq!(origin, KeyOrigin::Created(path.clone()));
        assert_eq!(fs::read_to_string(&path).unwrap().trim(), key.to_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let (again, origin) = resolve(&path, None, true).unwrap();
        assert_eq!(again.to_hex(), key.to_hex());
        assert_eq!(origin, KeyOrigin::File(path));
    }

    #[test]
    fn refuses_to_invent_a_key_for_a_database_that_has_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crossroads.key");
        let error = resolve(&path, None, true).unwrap_err();
        assert!(matches!(error, KeyError::Missing { .. }));
        assert!(error.to_string().contains("Restore the key file"));
        assert!(!path.exists());
    }

    #[test]
    fn the_environment_wins_and_must_be_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crossroads.key");
        let key = SecretKey::generate();
        let (found, origin) = resolve(&path, Some(key.to_hex()), true).unwrap();
        assert_eq!(found.to_hex(), key.to_hex());
        assert_eq!(origin, KeyOrigin::Environment);
        assert!(!path.exists());
        assert!(matches!(
            resolve(&path, Some("nope".into()), true),
            Err(KeyError::Malformed { .. })
        ));
    }

    #[test]
    fn a_damaged_key_file_is_an_error_not_a_reason_to_replace_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crossroads.key");
        fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            resolve(&path, None, false),
            Err(KeyError::Malformed { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key");
    }
}
