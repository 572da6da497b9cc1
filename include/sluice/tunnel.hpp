// The tunnels the dataplane takes packets out of, by the names `[flow] decapsulate` uses.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace sluice {

// Each tunnel: its value (1 up; 0 is none), its name in the config and in IPFIX's
// tunnelTechnology (IE 289), and what identifies one tunnel of it.
// clang-format off
#define SLUICE_TUNNELS(X)                                                                         \
    X(gre, 1, "GRE (RFC 2784/2890), IP, MPLS or Ethernet inside; its key when it has one")         \
    X(erspan, 2, "ERSPAN type I, II and III over GRE: a remote mirror session's frames; the session") \
    X(vxlan, 3, "VXLAN (RFC 7348), UDP: Ethernet inside; the VNI")                                  \
    X(geneve, 4, "Geneve (RFC 8926), UDP: Ethernet or IP inside; the VNI")                         \
    X(gtpu, 5, "GTP-U (3GPP TS 29.281), UDP: a mobile user's IP packets; the TEID")                 \
    X(ipip, 6, "IPv4 or IPv6 in IPv4 or IPv6 (RFC 2003, RFC 4213, RFC 2473)")
// clang-format on

enum class TunnelType : std::uint8_t {
    none = 0,
#define SLUICE_X(name, value, help) name = value,
    SLUICE_TUNNELS(SLUICE_X)
#undef SLUICE_X
};

inline constexpr unsigned kTunnelTypes = 0
#define SLUICE_X(name, value, help) +1
    SLUICE_TUNNELS(SLUICE_X)
#undef SLUICE_X
    ;

// By value less one.
inline constexpr std::array<std::string_view, kTunnelTypes> kTunnelNames = {
#define SLUICE_X(name, value, help) #name,
    SLUICE_TUNNELS(SLUICE_X)
#undef SLUICE_X
};

inline constexpr std::uint8_t tunnel_bit(TunnelType t) {
    return static_cast<std::uint8_t>(1u << static_cast<unsigned>(t));
}
inline constexpr std::uint8_t kAllTunnels =
    static_cast<std::uint8_t>(((1u << kTunnelTypes) - 1) << 1);

inline constexpr std::string_view tunnel_name(TunnelType t) {
    const auto v = static_cast<unsigned>(t);
    return v >= 1 && v <= kTunnelTypes ? kTunnelNames[v - 1] : std::string_view{};
}

}  // namespace sluice
