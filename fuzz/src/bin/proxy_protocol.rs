//! Fuzzes the PROXY protocol header reader (`icpgate::proxy_protocol`): `frame` on any bytes,
//! then `parse` on what it delimits. A framed header lies inside the input, within the v1 or
//! v2 size limit, and frames the same without the bytes after it; `Need` asks for more bytes
//! than there are.

use icpgate::proxy_protocol::{frame, parse, Framed, V1_MAX, V2_MAX_BODY};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let _ = parse(data);
        match frame(data) {
            Ok(Framed::Complete(n)) => {
                assert!(n <= data.len());
                assert!(n <= V1_MAX.max(16 + V2_MAX_BODY));
                assert_eq!(frame(&data[..n]), Ok(Framed::Complete(n)));
                let _ = parse(&data[..n]);
            }
            Ok(Framed::Need(Some(total))) => assert!(total > data.len()),
            Ok(Framed::Need(None)) => assert!(data.len() < V1_MAX),
            Err(_) => {}
        }
    });
}
