//! Stable outcome codes: every non-forwarded answer icpgate gives has exactly one `Code`, and
//! `Code::status` is the one exhaustive mapping from code to HTTP status.
//!
//! Owns the code strings (API contract: clients and dashboards key on them), their statuses and
//! their Chinese and English messages.
//! Must not: change a string or a status without a changelog entry; they are pinned by a test.
//! Invariant: every code maps to exactly one status; 451 only for filing decisions.

use http::StatusCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Code {
    // 451: the filing decision blocks the request.
    NotFiled,
    PlatformNotFiled,
    Cancelled,
    Revoked,
    Restricted,
    SignerNotFiled,
    NotIdentified,
    // 400: the request cannot be decided.
    IdentifierMissing,
    IdentifierInvalid,
    PlatformInvalid,
    AmbiguousRequest,
    BodyInvalid,
    MultipartInvalid,
    PackageMissing,
    PathInvalid,
    HostInvalid,
    // 413
    BodyTooLarge,
    // 408
    BodyTimeout,
    // 415
    UnsupportedMediaType,
    // 422: the uploaded package cannot be accepted as it is.
    PackageUnreadable,
    UnsupportedPackage,
    ManifestMissing,
    ManifestInvalid,
    PackageTooLarge,
    Unsigned,
    SignatureInvalid,
    PackagePlatformMismatch,
    PackageAmbiguous,
    // 404
    NoRoute,
    // 503
    IndexStale,
    // 502 / 504
    UpstreamUnavailable,
    UpstreamTimeout,
    // 507
    SpoolFailed,
    // 503: `audit.on_failure = "refuse"` and the audit record cannot be kept.
    AuditUnavailable,
    // 401: the request's access token cannot be trusted (RFC 6750 `invalid_token`).
    TokenInvalid,
    TokenExpired,
    TokenInactive,
    // 503: the route's introspection endpoint cannot answer and the route fails closed.
    IntrospectionUnavailable,
    // 502: a filter route's upstream answered with a list the gateway cannot filter.
    ListTooLarge,
    ListInvalid,
    // 451: a batch request names an unfiled app and its route refuses such batches.
    BatchUnfiled,
}

impl Code {
    pub const ALL: [Code; 41] = [
        Code::NotFiled,
        Code::PlatformNotFiled,
        Code::Cancelled,
        Code::Revoked,
        Code::Restricted,
        Code::SignerNotFiled,
        Code::NotIdentified,
        Code::IdentifierMissing,
        Code::IdentifierInvalid,
        Code::PlatformInvalid,
        Code::AmbiguousRequest,
        Code::BodyInvalid,
        Code::MultipartInvalid,
        Code::PackageMissing,
        Code::PathInvalid,
        Code::HostInvalid,
        Code::BodyTooLarge,
        Code::BodyTimeout,
        Code::UnsupportedMediaType,
        Code::PackageUnreadable,
        Code::UnsupportedPackage,
        Code::ManifestMissing,
        Code::ManifestInvalid,
        Code::PackageTooLarge,
        Code::Unsigned,
        Code::SignatureInvalid,
        Code::PackagePlatformMismatch,
        Code::PackageAmbiguous,
        Code::NoRoute,
        Code::IndexStale,
        Code::UpstreamUnavailable,
        Code::UpstreamTimeout,
        Code::SpoolFailed,
        Code::AuditUnavailable,
        Code::TokenInvalid,
        Code::TokenExpired,
        Code::TokenInactive,
        Code::IntrospectionUnavailable,
        Code::ListTooLarge,
        Code::ListInvalid,
        Code::BatchUnfiled,
    ];

    /// The one status table.
    pub fn status(self) -> StatusCode {
        match self {
            Code::NotFiled
            | Code::PlatformNotFiled
            | Code::Cancelled
            | Code::Revoked
            | Code::Restricted
            | Code::SignerNotFiled
            | Code::NotIdentified
            | Code::BatchUnfiled => StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            Code::IdentifierMissing
            | Code::IdentifierInvalid
            | Code::PlatformInvalid
            | Code::AmbiguousRequest
            | Code::BodyInvalid
            | Code::MultipartInvalid
            | Code::PackageMissing
            | Code::PathInvalid
            | Code::HostInvalid => StatusCode::BAD_REQUEST,
            Code::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::PackageUnreadable
            | Code::UnsupportedPackage
            | Code::ManifestMissing
            | Code::ManifestInvalid
            | Code::PackageTooLarge
            | Code::Unsigned
            | Code::SignatureInvalid
            | Code::PackagePlatformMismatch
            | Code::PackageAmbiguous => StatusCode::UNPROCESSABLE_ENTITY,
            Code::NoRoute => StatusCode::NOT_FOUND,
            Code::IndexStale | Code::AuditUnavailable | Code::IntrospectionUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Code::TokenInvalid | Code::TokenExpired | Code::TokenInactive => {
                StatusCode::UNAUTHORIZED
            }
            Code::UpstreamUnavailable | Code::ListTooLarge | Code::ListInvalid => {
                StatusCode::BAD_GATEWAY
            }
            Code::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Code::SpoolFailed => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Code::NotFiled => "not_filed",
            Code::PlatformNotFiled => "platform_not_filed",
            Code::Cancelled => "cancelled",
            Code::Revoked => "revoked",
            Code::Restricted => "restricted",
            Code::SignerNotFiled => "signer_not_filed",
            Code::NotIdentified => "not_identified",
            Code::IdentifierMissing => "identifier_missing",
            Code::IdentifierInvalid => "identifier_invalid",
            Code::PlatformInvalid => "platform_invalid",
            Code::AmbiguousRequest => "ambiguous_request",
            Code::BodyInvalid => "body_invalid",
            Code::MultipartInvalid => "multipart_invalid",
            Code::PackageMissing => "package_missing",
            Code::PathInvalid => "path_invalid",
            Code::HostInvalid => "host_invalid",
            Code::BodyTooLarge => "body_too_large",
            Code::BodyTimeout => "body_timeout",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::PackageUnreadable => "package_unreadable",
            Code::UnsupportedPackage => "unsupported_package",
            Code::ManifestMissing => "manifest_missing",
            Code::ManifestInvalid => "manifest_invalid",
            Code::PackageTooLarge => "package_too_large",
            Code::Unsigned => "unsigned",
            Code::SignatureInvalid => "signature_invalid",
            Code::PackagePlatformMismatch => "package_platform_mismatch",
            Code::PackageAmbiguous => "package_ambiguous",
            Code::NoRoute => "no_route",
            Code::IndexStale => "index_stale",
            Code::UpstreamUnavailable => "upstream_unavailable",
            Code::UpstreamTimeout => "upstream_timeout",
            Code::SpoolFailed => "spool_failed",
            Code::AuditUnavailable => "audit_unavailable",
            Code::TokenInvalid => "token_invalid",
            Code::TokenExpired => "token_expired",
            Code::TokenInactive => "token_inactive",
            Code::IntrospectionUnavailable => "introspection_unavailable",
            Code::ListTooLarge => "list_too_large",
            Code::ListInvalid => "list_invalid",
            Code::BatchUnfiled => "batch_unfiled",
        }
    }

    pub fn message_en(self) -> &'static str {
        match self {
            Code::NotFiled => "This app or mini program has no ICP filing for this platform; it cannot be distributed or served.",
            Code::PlatformNotFiled => "This identifier is filed only for another platform; it has no ICP filing for this platform.",
            Code::Cancelled => "The ICP filing for this app or mini program has been cancelled.",
            Code::Revoked => "The ICP filing for this app or mini program has been revoked.",
            Code::Restricted => "The ICP filing for this app or mini program is restricted by the regulator.",
            Code::SignerNotFiled => "The package is signed by a certificate that no ICP filing for it lists.",
            Code::NotIdentified => "The request does not identify an app or mini program, so its ICP filing cannot be checked.",
            Code::IdentifierMissing => "The request does not carry the app or mini-program identifier this endpoint requires.",
            Code::IdentifierInvalid => "The app or mini-program identifier does not match its platform's format.",
            Code::PlatformInvalid => "The platform named in the request is not one icpgate knows.",
            Code::AmbiguousRequest => "The request names more than one identifier (or the same one twice); it is refused rather than guessed.",
            Code::BodyInvalid => "The request body could not be parsed to find the identifier.",
            Code::MultipartInvalid => "The multipart/form-data body is malformed or uses a construction that common parsers read differently; it is refused rather than guessed.",
            Code::PackageMissing => "The upload carries no package (empty body, or no part with the configured form field).",
            Code::HostInvalid => "The request names more than one host (its target and Host header differ, or Host is repeated) or a malformed Host; servers would route it differently, so it is refused.",
            Code::PathInvalid => "The request path has dot-segments, empty segments, encoded slashes or backslashes, path parameters, control characters or malformed escapes; servers read such paths differently, so it is refused.",
            Code::BodyTooLarge => "The request body is larger than this endpoint accepts.",
            Code::BodyTimeout => "The client sent nothing of the request body for longer than the gateway waits.",
            Code::UnsupportedMediaType => "The request body's declared type, charset or content coding is not one this endpoint reads (upload endpoints: a package body or multipart/form-data).",
            Code::PackageUnreadable => "The uploaded file is not a readable ZIP archive.",
            Code::UnsupportedPackage => "The uploaded archive is not an APK, IPA or HAP package.",
            Code::ManifestMissing => "The package has no manifest (AndroidManifest.xml, Info.plist or module.json).",
            Code::ManifestInvalid => "The package manifest cannot be parsed or does not name the app.",
            Code::PackageTooLarge => "A part of the package (manifest, signature, directory) exceeds the gateway's inspection limits.",
            Code::Unsigned => "The package is not signed; this endpoint requires a signed package.",
            Code::SignatureInvalid => "The package's signature would not be accepted by its platform.",
            Code::PackagePlatformMismatch => "The package is for another platform than this endpoint accepts.",
            Code::PackageAmbiguous => "The package's ZIP structure can be read in more than one way (duplicate entries, a second directory, inconsistent headers or unaccounted bytes); it is refused.",
            Code::NoRoute => "No route matches this request.",
            Code::IndexStale => "The filing index is older than its staleness budget; this endpoint fails closed.",
            Code::UpstreamUnavailable => "The upstream service could not be reached.",
            Code::UpstreamTimeout => "The upstream service did not answer in time.",
            Code::SpoolFailed => "The gateway could not store the upload for inspection; try again later.",
            Code::AuditUnavailable => "The gateway cannot record this decision in its audit trail right now, so it does not serve it; try again later.",
            Code::TokenInvalid => "The access token is malformed, not signed by a trusted key, not valid for this service, or carries its claims ambiguously.",
            Code::TokenExpired => "The access token has expired; obtain a new one.",
            Code::TokenInactive => "The token service reports this access token as not active (expired, revoked or unknown).",
            Code::IntrospectionUnavailable => "The token service cannot confirm the access token right now, so the request is not served; try again later.",
            Code::ListTooLarge => "The upstream's list is larger than the gateway reads to remove unfiled apps, so it is not served.",
            Code::ListInvalid => "The upstream's answer is not a list the gateway can read to remove unfiled apps (not JSON, an unsupported encoding, no array at the configured place, or a construction parsers read differently), so it is not served.",
            Code::BatchUnfiled => "The request names apps or mini programs without an ICP filing for their platform; this endpoint refuses the whole request.",
        }
    }

    pub fn message_zh(self) -> &'static str {
        match self {
            Code::NotFiled => "该应用或小程序未在本平台完成ICP备案，不得提供分发或服务。",
            Code::PlatformNotFiled => "该标识仅在其他平台备案，未在本平台完成ICP备案。",
            Code::Cancelled => "该应用或小程序的ICP备案已注销。",
            Code::Revoked => "该应用或小程序的ICP备案已被撤销。",
            Code::Restricted => "该应用或小程序的ICP备案已被限制接入。",
            Code::SignerNotFiled => "安装包的签名证书不在任何备案信息中。",
            Code::NotIdentified => "请求未标明应用或小程序，无法核验其ICP备案。",
            Code::IdentifierMissing => "请求缺少该接口要求的应用或小程序标识。",
            Code::IdentifierInvalid => "应用或小程序标识格式不符合该平台规则。",
            Code::PlatformInvalid => "请求中的平台名称无法识别。",
            Code::AmbiguousRequest => "请求包含多个或重复的标识，无法确定核验对象。",
            Code::BodyInvalid => "无法解析请求体以获取应用标识。",
            Code::MultipartInvalid => "multipart/form-data 请求体格式错误，或使用了不同解析器会有不同理解的写法，已拒绝。",
            Code::PackageMissing => "上传请求中没有安装包（请求体为空或缺少指定的表单字段）。",
            Code::HostInvalid => "请求中的主机名不唯一（请求目标与 Host 头不一致或 Host 头重复）或格式错误，不同服务器路由方式不一致，请求被拒绝。",
            Code::PathInvalid => "请求路径包含点段、空段、编码的斜杠或反斜杠、路径参数、控制字符或错误的百分号编码，不同服务器对其理解不一致，请求被拒绝。",
            Code::BodyTooLarge => "请求体超过该接口的大小限制。",
            Code::BodyTimeout => "客户端发送请求体的间隔超过网关的等待时限。",
            Code::UnsupportedMediaType => "请求体声明的类型、字符集或内容编码不是该接口可读取的（上传接口只接受安装包文件或 multipart/form-data 表单）。",
            Code::PackageUnreadable => "上传的文件不是可读取的 ZIP 安装包。",
            Code::UnsupportedPackage => "上传的文件不是 APK、IPA 或 HAP 安装包。",
            Code::ManifestMissing => {
                "安装包缺少清单文件（AndroidManifest.xml、Info.plist 或 module.json）。"
            }
            Code::ManifestInvalid => "安装包清单文件无法解析或未标明应用标识。",
            Code::PackageTooLarge => "安装包的部分内容（清单、签名或目录）超出网关的检查限制。",
            Code::Unsigned => "安装包未签名，该接口只接受已签名的安装包。",
            Code::SignatureInvalid => "安装包的签名无法通过其平台的校验。",
            Code::PackagePlatformMismatch => "安装包所属平台与该接口不符。",
            Code::PackageAmbiguous => "安装包的 ZIP 结构存在歧义（重复条目、多个目录、头部不一致或无归属的数据），已拒绝。",
            Code::NoRoute => "没有与该请求匹配的路由。",
            Code::IndexStale => "备案数据已超过允许的更新时限，该接口暂停服务。",
            Code::UpstreamUnavailable => "无法连接上游服务。",
            Code::UpstreamTimeout => "上游服务响应超时。",
            Code::SpoolFailed => "网关暂时无法保存上传内容以供检查，请稍后重试。",
            Code::AuditUnavailable => "网关暂时无法将本次核验结果写入审计记录，因此暂停处理该请求，请稍后重试。",
            Code::TokenInvalid => "访问令牌格式错误、未经受信任的密钥签名、不适用于本服务，或其声明存在歧义。",
            Code::TokenExpired => "访问令牌已过期，请重新获取。",
            Code::TokenInactive => "令牌服务报告该访问令牌无效（已过期、已撤销或不存在）。",
            Code::IntrospectionUnavailable => "令牌服务暂时无法确认该访问令牌，请求暂不处理，请稍后重试。",
            Code::ListTooLarge => "上游返回的列表超出网关核验大小限制，无法剔除未备案应用，因此不予返回。",
            Code::ListInvalid => "上游返回的内容不是网关可读取的列表（非 JSON、不支持的压缩编码、指定位置不是数组，或存在不同解析器理解不一致的写法），无法剔除未备案应用，因此不予返回。",
            Code::BatchUnfiled => "请求中包含未在对应平台完成ICP备案的应用或小程序，该接口拒绝整个请求。",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the public contract: changing a code string or status must change this table.
    #[test]
    fn all_lists_every_code_in_declaration_order() {
        // `Reason::index` (the metrics' dense label index) relies on `c as usize` being the
        // position in `ALL`; a code inserted anywhere but appended moves them and fails here.
        for (i, c) in Code::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i, "{c:?}");
        }
        assert_eq!(Code::BatchUnfiled as usize + 1, Code::ALL.len());
    }

    #[test]
    fn status_table_is_pinned() {
        let table: Vec<(&str, u16)> = Code::ALL
            .iter()
            .map(|c| (c.as_str(), c.status().as_u16()))
            .collect();
        assert_eq!(
            table,
            vec![
                ("not_filed", 451),
                ("platform_not_filed", 451),
                ("cancelled", 451),
                ("revoked", 451),
                ("restricted", 451),
                ("signer_not_filed", 451),
                ("not_identified", 451),
                ("identifier_missing", 400),
                ("identifier_invalid", 400),
                ("platform_invalid", 400),
                ("ambiguous_request", 400),
                ("body_invalid", 400),
                ("multipart_invalid", 400),
                ("package_missing", 400),
                ("path_invalid", 400),
                ("host_invalid", 400),
                ("body_too_large", 413),
                ("body_timeout", 408),
                ("unsupported_media_type", 415),
                ("package_unreadable", 422),
                ("unsupported_package", 422),
                ("manifest_missing", 422),
                ("manifest_invalid", 422),
                ("package_too_large", 422),
                ("unsigned", 422),
                ("signature_invalid", 422),
                ("package_platform_mismatch", 422),
                ("package_ambiguous", 422),
                ("no_route", 404),
                ("index_stale", 503),
                ("upstream_unavailable", 502),
                ("upstream_timeout", 504),
                ("spool_failed", 507),
                ("audit_unavailable", 503),
                ("token_invalid", 401),
                ("token_expired", 401),
                ("token_inactive", 401),
                ("introspection_unavailable", 503),
                ("list_too_large", 502),
                ("list_invalid", 502),
                ("batch_unfiled", 451),
            ]
        );
    }
}
