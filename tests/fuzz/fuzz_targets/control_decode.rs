//! Any bytes, in any pieces, into the control socket's request decoder (the daemon's side)
//! and response decoder (the client's side): errors, never a panic; a request decoded is
//! encoded back to the same frame.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mspic_control::protocol::{RequestDecoder, ResponseDecoder, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    // The first byte picks the size of the pieces the bytes arrive in.
    let Some((&piece, bytes)) = data.split_first() else {
        return;
    };
    let piece = usize::from(piece).max(1);
    let mut req = RequestDecoder::new();
    let mut resp = ResponseDecoder::new();
    let (mut req_done, mut resp_done) = (false, false);
    for chunk in bytes.chunks(piece) {
        if !req_done {
            req.push(chunk);
            loop {
                match req.decode() {
                    Ok(Some(r)) => {
                        let wire = r.try_encode().expect("a decoded request encodes");
                        assert!(wire.len() >= HEADER_LEN);
                        let mut again = RequestDecoder::new();
                        again.push(&wire);
                        assert_eq!(again.decode(), Ok(Some(r)));
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = e.to_string();
                        req_done = true;
                        break;
                    }
                }
            }
        }
        if !resp_done {
            resp.push(chunk);
            loop {
                match resp.decode() {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        let _ = e.to_string();
                        resp_done = true;
                        break;
                    }
                }
            }
        }
    }
    let _ = req.finish();
    let _ = resp.finish();
});
