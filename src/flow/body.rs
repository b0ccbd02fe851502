//! Reading an answer's body as a stream, never past a cap: a server cannot make flowform hold
//! more than the cap in memory, whatever it sends or claims. (reqwest is built without
//! decompression, so the bytes counted are the bytes kept.)

use reqwest::Response;

/// Why a body could not be had.
#[derive(Debug)]
pub enum BodyError {
    /// More than the cap, by `Content-Length` or by what arrived; reading stopped there.
    TooLarge,
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// The whole body, if it fits in `cap` bytes.
pub async fn read(response: &mut Response, cap: usize) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Transport)? {
        if chunk.len() > cap - body.len() {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `cap` bytes of the body at most, the rest left unread: for error answers,
/// whose status already decides what happens and whose text is only shown.
pub async fn read_prefix(response: &mut Response, cap: usize) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == cap {
            break;
        }
    }
    Ok(body)
}

/// A cap in words: `4 MiB`, `64 KiB`.
pub fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}
