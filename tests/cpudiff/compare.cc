// Runs a case natively and in the emulator and compares what the
// architecture defines: exception vector, error code and faulting EIP, the
// eight GPRs, EFLAGS less the bits the case marks undefined, and the whole
// data area (stack included).
#include "cpudiff.h"

#include <stdio.h>
#include <string.h>

#include <memory>

namespace {

const char *const k_regnames[8] = {"eax", "ecx", "edx", "ebx",
				   "esp", "ebp", "esi", "edi"};

std::string hex(const std::vector<uint8_t> &b)
{
	std::string s;
	char t[4];
	for (size_t i = 0; i < b.size(); i++) {
		snprintf(t, sizeof(t), i ? " %02x" : "%02x", b[i]);
		s += t;
	}
	return s;
}

std::string flags_str(uint32_t f)
{
	static const struct { uint32_t bit; const char *n; } names[] = {
		{CPUD_OF, "OF"}, {CPUD_DF, "DF"}, {CPUD_IF, "IF"}, {CPUD_TF, "TF"},
		{CPUD_SF, "SF"}, {CPUD_ZF, "ZF"}, {CPUD_AF, "AF"}, {CPUD_PF, "PF"},
		{CPUD_CF, "CF"}, {CPUD_AC, "AC"}, {CPUD_ID, "ID"}, {CPUD_NT, "NT"},
	};
	char b[32];
	snprintf(b, sizeof(b), "%08x", f);
	std::string s = b;
	s += " [";
	bool first = true;
	for (auto &n : names)
		if (f & n.bit) {
			if (!first)
				s += ' ';
			s += n.n;
			first = false;
		}
	return s + "]";
}

// EFLAGS bits a case can observe: all the defined ones but RF (cleared
// by the fault paths) and VM; IF only when the emulator runs at CPL 3
// with IF=1 like the host.
uint32_t flags_compared(enum emuh_priv priv)
{
	uint32_t m = 0x003f7fd5u & ~CPUD_RF;
	if (priv == EMUH_CPL0)
		m &= ~(CPUD_IF | CPUD_IOPL);
	return m;
}

} // namespace

void cd_fill_data(const cd_case &c, uint8_t *data)
{
	// A fixed pattern no instruction result is likely to reproduce.
	uint32_t x = 0x1234567u;
	for (uint32_t i = 0; i < CPUD_DATA_SIZE; i += 4) {
		x = x * 1103515245u + 12345u;
		memcpy(data + i, &x, 4);
	}
	for (auto &p : c.mem)
		if (p.first < CPUD_DATA_SIZE)
			memcpy(data + p.first, p.second.data(),
			       std::min(p.second.size(),
					(size_t)(CPUD_DATA_SIZE - p.first)));
}

int cd_native(const cd_case &c, struct cpud_result *out)
{
	std::unique_ptr<uint8_t[]> data(new uint8_t[CPUD_DATA_SIZE]);
	cd_fill_data(c, data.get());
	return native_run(c.mode, c.code.data(), c.code.size(), &c.in,
			  data.get(), out);
}

std::string cd_describe_case(const cd_case &c)
{
	char b[160];
	std::string s = c.name + " (" + std::to_string((int)c.mode) +
			"-bit code)\n  code: " + hex(c.code) + "\n  in:  ";
	for (int i = 0; i < 8; i++) {
		snprintf(b, sizeof(b), "%s=%08llx ", k_regnames[i],
			 (unsigned long long)c.in.gpr[i]);
		s += b;
	}
	s += "\n       eflags=" + flags_str(c.in.eflags);
	for (auto &p : c.mem) {
		snprintf(b, sizeof(b), "\n       data+%04x: ", p.first);
		s += b + hex(std::vector<uint8_t>(p.second.begin(),
			 p.second.begin() + std::min<size_t>(p.second.size(), 32)));
		if (p.second.size() > 32)
			s += " ...";
	}
	if (c.undef_flags) {
		s += "\n       undefined flags: " + flags_str(c.undef_flags);
	}
	return s;
}

std::string cd_describe_result(const struct cpud_result &r, const cd_case &c)
{
	(void)c;
	char b[160];
	std::string s;
	if (r.vector == CPUD_NO_EXCEPTION)
		s = "end";
	else {
		snprintf(b, sizeof(b), "exception %d (error %#x)", r.vector,
			 r.error_code);
		s = b;
	}
	snprintf(b, sizeof(b), " at eip=%08llx\n       ",
		 (unsigned long long)r.regs.eip);
	s += b;
	for (int i = 0; i < 8; i++) {
		snprintf(b, sizeof(b), "%s=%08llx ", k_regnames[i],
			 (unsigned long long)r.regs.gpr[i]);
		s += b;
	}
	s += "\n       eflags=" + flags_str(r.regs.eflags);
	return s;
}

cd_outcome cd_compare(struct emuh *h, enum emuh_priv priv, const cd_case &c)
{
	cd_outcome o;
	std::unique_ptr<uint8_t[]> data(new uint8_t[CPUD_DATA_SIZE]);
	std::unique_ptr<cpud_result> nat(new cpud_result());
	std::unique_ptr<cpud_result> emu(new cpud_result());
	cd_fill_data(c, data.get());
	int err = native_run(c.mode, c.code.data(), c.code.size(), &c.in,
			     data.get(), nat.get());
	if (err) {
		o.ok = false;
		o.report = "native run failed: " + std::string(strerror(-err)) +
			   "\n" + cd_describe_case(c);
		return o;
	}
	enum emuh_status st = emuh_run(h, c.mode, c.code.data(), c.code.size(),
				       &c.in, data.get(), emu.get(), 100000);
	std::string diffs;
	char b[200];
	if (st != EMUH_OK) {
		diffs = std::string("  emulator: ") + emuh_status_name(st) + "\n";
	} else {
		if (nat->vector != emu->vector) {
			snprintf(b, sizeof(b), "  exception: native %d, emu %d\n",
				 nat->vector, emu->vector);
			diffs += b;
		} else if (nat->error_code != emu->error_code) {
			snprintf(b, sizeof(b), "  error code: native %#x, emu %#x\n",
				 nat->error_code, emu->error_code);
			diffs += b;
		}
		if (nat->regs.eip != emu->regs.eip) {
			snprintf(b, sizeof(b), "  eip: native %08llx, emu %08llx\n",
				 (unsigned long long)nat->regs.eip,
				 (unsigned long long)emu->regs.eip);
			diffs += b;
		}
		for (int i = 0; i < 8; i++) {
			if ((nat->regs.gpr[i] ^ emu->regs.gpr[i]) & ~(uint64_t)c.undef_bits[i]) {
				snprintf(b, sizeof(b), "  %s: native %08llx, emu %08llx\n",
					 k_regnames[i],
					 (unsigned long long)nat->regs.gpr[i],
					 (unsigned long long)emu->regs.gpr[i]);
				diffs += b;
			}
		}
		uint32_t undef = c.undef_flags;
		if (nat->vector != CPUD_NO_EXCEPTION && nat->vector == emu->vector &&
		    nat->regs.eip == emu->regs.eip && !c.undef_at.empty()) {
			uint64_t off = nat->regs.eip -
				       (c.mode == CPUD_MODE16 ? 0 : CPUD_CODE_BASE);
			for (auto &u : c.undef_at)
				if (u.first <= off)
					undef = u.second;
		}
		uint32_t fm = flags_compared(priv) & ~undef;
		if ((nat->regs.eflags ^ emu->regs.eflags) & fm) {
			snprintf(b, sizeof(b), "  eflags (defined bits %08x): native ", fm);
			diffs += b + flags_str(nat->regs.eflags & fm) + ", emu " +
				 flags_str(emu->regs.eflags & fm) + "\n";
		}
		// At CPL 0 the emulator's exception frame (EIP, CS, EFLAGS and
		// an error code) lands just below the test's ESP.
		uint32_t frame_lo = 1, frame_hi = 0;
		if (priv == EMUH_CPL0 && emu->vector != CPUD_NO_EXCEPTION) {
			uint32_t sp = c.mode == CPUD_MODE16
				? (uint32_t)(emu->regs.gpr[4] & 0xffff)
				: (uint32_t)emu->regs.gpr[4] - CPUD_DATA_BASE;
			frame_lo = sp - 16;
			frame_hi = sp;
		}
		int shown = 0;
		for (uint32_t i = 0; i < CPUD_DATA_SIZE; i++) {
			if (nat->data[i] == emu->data[i])
				continue;
			if (i - frame_lo < frame_hi - frame_lo)
				continue;
			if (shown++ < 8) {
				snprintf(b, sizeof(b),
					 "  data+%04x: native %02x, emu %02x (was %02x)\n",
					 i, nat->data[i], emu->data[i], data[i]);
				diffs += b;
			}
		}
		if (shown > 8)
			diffs += "  ... " + std::to_string(shown - 8) +
				 " more data bytes differ\n";
	}
	if (!diffs.empty()) {
		o.ok = false;
		o.report = "MISMATCH " + cd_describe_case(c) + "\n" + diffs +
			   "  native: " + cd_describe_result(*nat, c) + "\n";
		if (st == EMUH_OK)
			o.report += "  emu:    " + cd_describe_result(*emu, c) + "\n";
	}
	return o;
}
