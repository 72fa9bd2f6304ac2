//! Filing numbers (备案号): parsing, normalisation and canonical rendering.
//!
//! Owns the grammar of domain.md §1.4: `<province>ICP备<8|20+8 digits>号`, `<province>ICP证<6>号`
//! or `<province>B2-20<6>`, then an optional `-<seq><kind>` service suffix. Input is NFKC-normalised
//! and stripped of whitespace before matching, so full-width copy-paste forms are accepted.
//! Must not: lowercase (a `-1a` is rejected), guess at malformed numbers, or allocate on render
//! beyond the output string.
//! Invariant: `parse(n.to_string()) == n` for every `FilingNumber` this module produces.

use std::fmt;
use std::str::FromStr;
use unicode_normalization::UnicodeNormalization;

/// Province-level abbreviations that issue numbers, including the variants seen in the wild
/// (川/蜀, 黔/贵, 甘/陇). Order is part of the compact encoding: append only.
pub const PROVINCES: [char; 34] = [
    '京', '津', '冀', '晋', '蒙', '辽', '吉', '黑', '沪', '苏', '浙', '皖', '闽', '赣', '鲁', '豫',
    '鄂', '湘', '粤', '桂', '琼', '渝', '川', '蜀', '黔', '贵', '滇', '藏', '陕', '甘', '陇', '青',
    '宁', '新',
];

/// What kind of service a filing number designates (the suffix letter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKind {
    /// `A`: an app.
    App,
    /// `X`: a mini program.
    MiniProgram,
    /// `B`: a quick app (suffix reported but unconfirmed, domain.md §1.1).
    QuickApp,
}

impl ServiceKind {
    pub fn letter(self) -> char {
        match self {
            ServiceKind::App => 'A',
            ServiceKind::MiniProgram => 'X',
            ServiceKind::QuickApp => 'B',
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ServiceKind::App => "app",
            ServiceKind::MiniProgram => "mini_program",
            ServiceKind::QuickApp => "quick_app",
        }
    }

    fn from_letter(c: char) -> Option<Self> {
        match c {
            'A' => Some(ServiceKind::App),
            'X' => Some(ServiceKind::MiniProgram),
            'B' => Some(ServiceKind::QuickApp),
            _ => None,
        }
    }
}

impl FromStr for ServiceKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "app" => Ok(ServiceKind::App),
            "mini_program" => Ok(ServiceKind::MiniProgram),
            "quick_app" => Ok(ServiceKind::QuickApp),
            _ => Err(()),
        }
    }
}

/// The subject-number form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubjectForm {
    /// `ICP备` + 8 digits (2-digit year + 6-digit sequence).
    Bei8,
    /// `ICP备` + 10 digits starting `20` (4-digit year + 6-digit sequence).
    Bei10,
    /// `ICP证` + 6 digits (old commercial licence).
    Zheng6,
    /// `B2-` + 8 digits starting `20` (commercial licence as subject number, no 号).
    B2,
}

/// A parsed filing number; encodes into 8 bytes so the index can store millions of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FilingNumber {
    province: u8,
    form: SubjectForm,
    digits: u64,
    /// Service sequence number, 0 when the number is a bare subject number.
    seq: u32,
    kind: Option<ServiceKind>,
}

/// Why a string is not a filing number. The variants are stable and shown to users.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("filing number is empty")]
    Empty,
    #[error("unknown province abbreviation {0:?}")]
    Province(char),
    #[error("expected ICP备, ICP证 or B2- after the province")]
    Form,
    #[error(
        "wrong digit block (ICP备 takes 8 digits or 10 starting 20, ICP证 6, B2- 8 starting 20)"
    )]
    Digits,
    #[error("missing 号 after the digits")]
    MissingHao,
    #[error("bad service suffix (expected -<1..99999><A|X|B>)")]
    Suffix,
}

impl FilingNumber {
    /// Parses after NFKC normalisation and whitespace removal.
    pub fn parse(raw: &str) -> Result<Self, NumberError> {
        // Fastest path: the grammar only accepts a province, ASCII letters and digits, `-`, 备,
        // 证 and 号, none of which NFKC changes or composes or which is whitespace, so a string
        // the grammar accepts as is would normalise to itself: parsing it first is exact.
        if let Ok(n) = Self::parse_normalised(raw) {
            return Ok(n);
        }
        // Fast path: canonical numbers (every feed line) are already NFKC without whitespace.
        let already = !raw.chars().any(char::is_whitespace)
            && unicode_normalization::is_nfkc_quick(raw.chars())
                == unicode_normalization::IsNormalized::Yes;
        if already {
            return Self::parse_normalised(raw);
        }
        let norm: String = raw.nfkc().filter(|c| !c.is_whitespace()).collect();
        Self::parse_normalised(&norm)
    }

    fn parse_normalised(s: &str) -> Result<Self, NumberError> {
        let mut chars = s.chars();
        let first = chars.next().ok_or(NumberError::Empty)?;
        let province = PROVINCES
            .iter()
            .position(|&p| p == first)
            .ok_or(NumberError::Province(first))? as u8;
        let rest = chars.as_str();
        let (form, digits, rest) = if let Some(r) = rest.strip_prefix("ICP备") {
            let (d, r) = take_digits(r);
            let form = match d.len() {
                8 => SubjectForm::Bei8,
                10 if d.starts_with("20") => SubjectForm::Bei10,
                _ => return Err(NumberError::Digits),
            };
            (
                form,
                d,
                r.strip_prefix('号').ok_or(NumberError::MissingHao)?,
            )
        } else if let Some(r) = rest.strip_prefix("ICP证") {
            let (d, r) = take_digits(r);
            if d.len() != 6 {
                return Err(NumberError::Digits);
            }
            (
                SubjectForm::Zheng6,
                d,
                r.strip_prefix('号').ok_or(NumberError::MissingHao)?,
            )
        } else if let Some(r) = rest.strip_prefix("B2-") {
            let (d, r) = take_digits(r);
            if d.len() != 8 || !d.starts_with("20") {
                return Err(NumberError::Digits);
            }
            (SubjectForm::B2, d, r)
        } else {
            return Err(NumberError::Form);
        };
        let digits: u64 = digits.parse().map_err(|_| NumberError::Digits)?;
        let (seq, kind) = parse_suffix(rest)?;
        Ok(FilingNumber {
            province,
            form,
            digits,
            seq,
            kind,
        })
    }

    pub fn province(&self) -> char {
        PROVINCES[self.province as usize]
    }

    pub fn form(&self) -> SubjectForm {
        self.form
    }

    /// The service kind, `None` for a bare subject number or a website number.
    pub fn kind(&self) -> Option<ServiceKind> {
        self.kind
    }

    /// Service sequence number, `None` for a bare subject number.
    pub fn seq(&self) -> Option<u32> {
        (self.seq != 0).then_some(self.seq)
    }

    /// Compact 8-byte encoding for the index store: bits 0–5 province, 6–7 form, 8–9 kind,
    /// 10–26 sequence (≤ 99,999 < 2^17), 27–58 digits (≤ 2,099,999,999 < 2^32).
    pub fn to_bytes(&self) -> [u8; 8] {
        let form = match self.form {
            SubjectForm::Bei8 => 0u64,
            SubjectForm::Bei10 => 1,
            SubjectForm::Zheng6 => 2,
            SubjectForm::B2 => 3,
        };
        let kind = match self.kind {
            None => 0u64,
            Some(ServiceKind::App) => 1,
            Some(ServiceKind::MiniProgram) => 2,
            Some(ServiceKind::QuickApp) => 3,
        };
        let v = self.province as u64
            | form << 6
            | kind << 8
            | (self.seq as u64 & 0x1_FFFF) << 10
            | (self.digits & 0xFFFF_FFFF) << 27;
        v.to_le_bytes()
    }

    /// Inverse of [`to_bytes`](Self::to_bytes); `None` on bytes it did not produce.
    pub fn from_bytes(b: &[u8; 8]) -> Option<Self> {
        let v = u64::from_le_bytes(*b);
        let form = match (v >> 6) & 3 {
            0 => SubjectForm::Bei8,
            1 => SubjectForm::Bei10,
            2 => SubjectForm::Zheng6,
            _ => SubjectForm::B2,
        };
        let kind = match (v >> 8) & 3 {
            0 => None,
            1 => Some(ServiceKind::App),
            2 => Some(ServiceKind::MiniProgram),
            _ => Some(ServiceKind::QuickApp),
        };
        let province = (v & 63) as u8;
        if province as usize >= PROVINCES.len() || v >> 59 != 0 {
            return None;
        }
        let digits = (v >> 27) & 0xFFFF_FFFF;
        let seq = ((v >> 10) & 0x1_FFFF) as u32;
        Some(FilingNumber {
            province,
            form,
            digits,
            seq,
            kind,
        })
    }
}

fn take_digits(s: &str) -> (&str, &str) {
    // A non-digit character starts with a non-digit byte, so the byte position is a boundary.
    let end = s
        .bytes()
        .position(|c| !c.is_ascii_digit())
        .unwrap_or(s.len());
    s.split_at(end)
}

fn parse_suffix(rest: &str) -> Result<(u32, Option<ServiceKind>), NumberError> {
    if rest.is_empty() {
        return Ok((0, None));
    }
    let r = rest.strip_prefix('-').ok_or(NumberError::Suffix)?;
    let (d, tail) = take_digits(r);
    if d.is_empty() || d.len() > 5 || d.starts_with('0') {
        return Err(NumberError::Suffix);
    }
    let seq: u32 = d.parse().map_err(|_| NumberError::Suffix)?;
    let mut t = tail.chars();
    let kind = match t.next() {
        None => None,
        Some(c) => Some(ServiceKind::from_letter(c).ok_or(NumberError::Suffix)?),
    };
    if t.next().is_some() {
        return Err(NumberError::Suffix);
    }
    Ok((seq, kind))
}

/// Room for a filing number's text: at most 30 bytes of UTF-8 (a 3-byte province, `ICP备`,
/// 10 digits, `号`, `-` and 6 digits, a letter).
pub const TEXT_MAX: usize = 40;

/// A filing number's text, written on the stack, so formatting one allocates nothing.
pub struct Text {
    buf: [u8; TEXT_MAX],
    len: usize,
}

impl Text {
    fn push(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.len..self.len + bytes.len()) {
            dst.copy_from_slice(bytes);
            self.len += bytes.len();
        }
    }

    /// `v` in decimal, zero-padded to `width`.
    fn number(&mut self, mut v: u64, width: usize) {
        let mut tmp = [b'0'; 20];
        let mut start = tmp.len();
        loop {
            start -= 1;
            tmp[start] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 || start == 0 {
                break;
            }
        }
        for _ in tmp.len() - start..width {
            self.push(b"0");
        }
        self.push(&tmp[start..]);
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl FilingNumber {
    /// The number as written: `粤ICP备2023123456号-3A`.
    pub fn text(&self) -> Text {
        let mut t = Text {
            buf: [0; TEXT_MAX],
            len: 0,
        };
        let mut p = [0u8; 4];
        t.push(self.province().encode_utf8(&mut p).as_bytes());
        let (form, width, tail): (&str, usize, &str) = match self.form {
            SubjectForm::Bei8 => ("ICP备", 8, "号"),
            SubjectForm::Bei10 => ("ICP备", 10, "号"),
            SubjectForm::Zheng6 => ("ICP证", 6, "号"),
            SubjectForm::B2 => ("B2-", 8, ""),
        };
        t.push(form.as_bytes());
        t.number(self.digits, width);
        t.push(tail.as_bytes());
        if self.seq != 0 {
            t.push(b"-");
            t.number(u64::from(self.seq), 0);
        }
        if let Some(k) = self.kind {
            t.push(&[k.letter() as u8]);
        }
        t
    }
}

impl fmt::Display for FilingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

impl FromStr for FilingNumber {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Self, NumberError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &[&str] = &[
        "陕ICP备2024026116号-1A",
        "辽ICP备2023009191号-2A",
        "浙ICP备2024071295号-2A",
        "京ICP证030173号-215A",
        "粤B2-20090059-1626X",
        "粤B2-20090059-1824A",
        "京ICP备2026059598号-1X",
        "黔ICP备2025044274号-1X",
        "京ICP证030173号-1",
        "京ICP备10046444号-9",
        "京ICP备13004732号",
        "粤B2-20090059",
        "川ICP备10200063号-1",
        "甘ICP备16003251号-1",
        "蜀ICP备2026054850号-2A",
        "粤ICP备2023123456号-3B",
        // Field extremes of the 8-byte encoding.
        "新ICP备2099999999号-99999B",
        "京ICP备00000000号-1A",
        "陇B2-20999999-99999X",
    ];

    const INVALID: &[&str] = &[
        "皖ICP备2024066235-1号",
        "滇ICP备09010050-5号",
        "青ICP备案026000119号-2A",
        "陇ICP备 05000593",
        "新ICP备07002316",
        "京ICP备15033742号-1bsp",
        "贵ICP备(shou.org.cn)05052049号-13",
        "萌ICP备12345678号-1A",
        "京ICP备12345678号-0A",
        "京ICP备12345678号-01A",
        "京ICP备12345678号-1a",
        "京ICP备1234567号-1A",
        "京ICP备123456789号-1A",
        "云ICP备12345678号-1A",
        "京ICP备3024026116号-1A",
        "京ICP备12345678号-123456A",
        "京ICP备12345678号-1AX",
        "",
        "京",
    ];

    #[test]
    fn accepts_real_numbers_and_round_trips() {
        for s in VALID {
            let n = FilingNumber::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(&n.to_string(), s);
            assert_eq!(FilingNumber::from_bytes(&n.to_bytes()), Some(n));
        }
    }

    #[test]
    fn rejects_malformed_numbers() {
        for s in INVALID {
            assert!(FilingNumber::parse(s).is_err(), "{s} should be rejected");
        }
    }

    #[test]
    fn nfkc_and_whitespace_are_normalised() {
        let n = FilingNumber::parse("京ＩＣＰ备１２３４５６７８号－２Ａ").unwrap();
        assert_eq!(n.to_string(), "京ICP备12345678号-2A");
        let n = FilingNumber::parse(" 粤B2-2009 0059-1626X ").unwrap();
        assert_eq!(n.kind(), Some(ServiceKind::MiniProgram));
        assert_eq!(n.seq(), Some(1626));
    }

    /// The grammar-first shortcut gives what normalising first gives, for valid, invalid and
    /// full-width inputs alike.
    #[test]
    fn parsing_as_is_agrees_with_normalising_first() {
        let full = [
            "京ＩＣＰ备１２３４５６７８号－２Ａ",
            " 粤B2-2009 0059-1626X ",
            "京ICP备12345678号-1\u{0301}A",
        ];
        for s in VALID.iter().chain(INVALID).chain(&full) {
            let norm: String = s.nfkc().filter(|c| !c.is_whitespace()).collect();
            let slow = FilingNumber::parse_normalised(&norm);
            assert_eq!(FilingNumber::parse(s).ok(), slow.ok(), "{s}");
        }
    }

    /// The longest texts the compact encoding can hold fit the stack buffer whole.
    #[test]
    fn the_widest_encodable_numbers_are_written_whole() {
        for form in 0u64..4 {
            let v = (PROVINCES.len() as u64 - 1)
                | form << 6
                | 3 << 8
                | 0x1_FFFF << 10
                | 0xFFFF_FFFF << 27;
            let n = FilingNumber::from_bytes(&v.to_le_bytes()).unwrap();
            let p = n.province();
            let want = match form {
                0 => format!("{p}ICP备4294967295号-131071B"),
                1 => format!("{p}ICP备4294967295号-131071B"),
                2 => format!("{p}ICP证4294967295号-131071B"),
                _ => format!("{p}B2-4294967295-131071B"),
            };
            assert_eq!(n.to_string(), want);
        }
        let small = FilingNumber::from_bytes(&(1u64 << 6 | 7 << 27).to_le_bytes()).unwrap();
        assert_eq!(
            small.text().as_str(),
            format!("{}ICP备0000000007号", small.province())
        );
    }

    #[test]
    fn kinds_follow_suffix() {
        assert_eq!(
            FilingNumber::parse("陕ICP备2024026116号-1A")
                .unwrap()
                .kind(),
            Some(ServiceKind::App)
        );
        assert_eq!(
            FilingNumber::parse("京ICP备13004732号-2").unwrap().kind(),
            None
        );
        assert_eq!(
            FilingNumber::parse("京ICP备13004732号").unwrap().seq(),
            None
        );
    }
}
