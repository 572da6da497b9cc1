// Payloads of the applications Sluice identifies by default, as their clients and servers
// send them first: the unit tests scan them, sluice-tracegen --applications puts them in a trace.
#include "tools/pktgen/applications.hpp"

#include <initializer_list>

namespace sluice::pktgen {
namespace {

constexpr std::uint8_t kTcp = 6, kUdp = 17;

std::string bytes(std::initializer_list<int> b) {
    std::string s;
    for (int c : b) s.push_back(static_cast<char>(c));
    return s;
}

}  // namespace

std::vector<ApplicationSample> application_samples() {
    const std::string dns_query = bytes({0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7}) +
                                  "example" + bytes({3}) + "com" + bytes({0, 0, 1, 0, 1});
    std::string dns_answer = dns_query;
    dns_answer[2] = static_cast<char>(0x81);
    dns_answer[3] = static_cast<char>(0x80);
    dns_answer[7] = 1;
    std::string ntp_client(48, '\0'), ntp_server(48, '\0');
    ntp_client[0] = 0x23;
    ntp_server[0] = 0x24;
    ntp_server[1] = 2;
    std::string dhcp(240, '\0');
    dhcp[0] = 1, dhcp[1] = 1, dhcp[2] = 6;
    dhcp[236] = 0x63, dhcp[237] = static_cast<char>(0x82), dhcp[238] = 0x53, dhcp[239] = 0x63;
    std::string wg_init(148, 'x'), wg_resp(92, 'y');
    wg_init.replace(0, 4, bytes({1, 0, 0, 0}));
    wg_resp.replace(0, 4, bytes({2, 0, 0, 0}));
    std::string mongo =
        bytes({0x3a, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xdd, 0x07, 0, 0}) + "payload";
    return {
        {"http", kTcp, 80, "GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n",
         "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
        {"tls", kTcp, 443,
         bytes({0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}) + "random",
         bytes({0x16, 0x03, 0x03, 0x00, 0x5a, 0x02, 0x00, 0x00, 0x56, 0x03, 0x03}) + "random"},
        {"ssh", kTcp, 22, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "SSH-2.0-OpenSSH_8.4\r\n"},
        {"dns", kUdp, 53, dns_query, dns_answer},
        {"smtp", kTcp, 25, "EHLO client.example.com\r\n", "220 mail.example.com ESMTP Postfix\r\n"},
        {"imap", kTcp, 143, "a001 CAPABILITY\r\n",
         "* OK [CAPABILITY IMAP4rev1] Dovecot ready.\r\n"},
        {"pop3", kTcp, 110, "CAPA\r\n", "+OK POP3 server ready\r\n"},
        {"ftp", kTcp, 21, "FEAT\r\n", "220 (vsFTPd 3.0.3) FTP server\r\n"},
        {"smb", kTcp, 445, bytes({0, 0, 0, 0x54, 0xfe}) + "SMB@",
         bytes({0, 0, 0, 0x80, 0xfe}) + "SMB@"},
        {"rdp", kTcp, 3389,
         bytes({3, 0, 0, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0, 1, 0, 8, 0, 3, 0, 0, 0}),
         bytes({3, 0, 0, 0x13, 0x0e, 0xd0, 0, 0, 0x12, 0x34, 0, 2, 0, 8, 0, 2, 0, 0, 0})},
        {"mysql", kTcp, 3306, "", bytes({0x4a, 0, 0, 0, 0x0a}) + "8.0.35" + bytes({0}) + "salt"},
        {"postgresql", kTcp, 5432, bytes({0, 0, 0, 0x29, 0, 3, 0, 0}) + "user" + bytes({0}) + "app",
         ""},
        {"redis", kTcp, 6379, "*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
        {"mongodb", kTcp, 27017, mongo, mongo},
        {"ldap", kTcp, 389,
         bytes(
             {0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00}),
         bytes(
             {0x30, 0x0c, 0x02, 0x01, 0x01, 0x61, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00})},
        {"kerberos", kUdp, 88,
         bytes({0x6a, 0x81, 0xb0, 0x30, 0x81, 0xad, 0xa1, 0x03, 0x02, 0x01, 0x05, 0xa2, 0x03}),
         bytes({0x6b, 0x82, 0x02, 0x10, 0x30, 0x82, 0x02, 0x0c, 0xa0, 0x03, 0x02, 0x01, 0x05})},
        {"ntp", kUdp, 123, ntp_client, ntp_server},
        {"snmp", kUdp, 161,
         bytes({0x30, 0x26, 0x02, 0x01, 0x01, 0x04, 0x06}) + "public" + bytes({0xa0, 0x19}),
         bytes({0x30, 0x29, 0x02, 0x01, 0x01, 0x04, 0x06}) + "public" + bytes({0xa2, 0x1c})},
        {"sip", kUdp, 5060, "INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n",
         "SIP/2.0 180 Ringing\r\n"},
        {"mqtt", kTcp, 1883, bytes({0x10, 0x12, 0x00, 0x04}) + "MQTT" + bytes({0x04, 0x02, 0, 60}),
         bytes({0x20, 0x02, 0x00, 0x00})},
        {"bittorrent", kTcp, 6881, bytes({0x13}) + "BitTorrent protocol" + std::string(8, '\0'),
         bytes({0x13}) + "BitTorrent protocol" + std::string(8, '\0')},
        {"quic", kUdp, 443, bytes({0xc3, 0, 0, 0, 1, 8}) + "12345678",
         bytes({0xc1, 0, 0, 0, 1, 0})},
        {"telnet", kTcp, 23, bytes({0xff, 0xfd, 0x18, 0xff, 0xfd, 0x20}),
         bytes({0xff, 0xfb, 0x01, 0xff, 0xfb, 0x03})},
        {"syslog", kUdp, 514, "<34>Oct 11 22:14:15 mymachine su: 'su root' failed", ""},
        {"dhcp", kUdp, 67, dhcp, ""},
        {"wireguard", kUdp, 51820, wg_init, wg_resp},
    };
}

}  // namespace sluice::pktgen
