//! Reads the files a configuration or a web configuration consists of, each up to a size
//! limit.
//!
//! A path can name something that never ends (`/dev/zero`, a log that keeps growing) or a
//! file far larger than any configuration; reading it whole would take the process's
//! memory with it. Each kind of file has a limit well above any real one, and reading
//! stops one byte past it.

use std::io::Read;
use std::path::Path;

/// The configuration file: inline watch lists of a few hundred thousand UserIDs fit.
pub const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// A `user_ids_file`: two million UserIDs of the longest kind (32 bytes) fit.
pub const MAX_USER_IDS_FILE_BYTES: u64 = 64 << 20;
/// A `secret_key_file`: a key is 64 characters.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 << 10;

/// The web configuration file, and each certificate, key or CA file it names.
pub const MAX_WEB_FILE_BYTES: u64 = 1 << 20;

/// The text of the file at `path`, if it is UTF-8 and at most `limit` bytes. The error
/// says what went wrong, without the path (the caller names it).
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    String::from_utf8(read_bytes(path, limit)?).map_err(|_| "the file is not UTF-8 text".to_owned())
}

/// The bytes of the file at `path`, if it is at most `limit` bytes.
pub fn read_bytes(path: &Path, limit: u64) -> Result<Vec<u8>, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "the file is larger than the limit of {}",
            size(limit)
        ));
    }
    Ok(bytes)
}

/// A limit for people: `16 MiB`, `64 KiB`.
fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_up_to_the_limit_and_refuses_past_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abcd").unwrap();
        assert_eq!(read_text(&path, 4).unwrap(), "abcd");
        assert_eq!(
            read_text(&path, 3).unwrap_err(),
            "the file is larger than the limit of 3 bytes"
        );
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert_eq!(
            read_text(&path, 4).unwrap_err(),
            "the file is not UTF-8 text"
        );
        assert!(read_text(&dir.path().join("absent"), 4).is_err());
    }

    #[test]
    fn an_endless_file_is_cut_at_the_limit() {
        let err = read_text(Path::new("/dev/zero"), MAX_SECRET_FILE_BYTES).unwrap_err();
        assert_eq!(err, "the file is larger than the limit of 64 KiB");
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size(MAX_CONFIG_BYTES), "16 MiB");
        assert_eq!(size(MAX_SECRET_FILE_BYTES), "64 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
