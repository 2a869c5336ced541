/*
 * x86 instruction decoder (Intel SDM vol. 2, chapter 2 and appendix A):
 * prefixes, one- and two-byte opcode maps, ModRM/SIB addressing in 16- and
 * 32-bit forms, immediates. It produces a struct insn whose handler id picks
 * a specialised interpreter routine (operand size, register or memory form)
 * for the frequent instructions and the general MISC routine for the rest.
 */
#include "emu.h"
#include "insn.h"

#include <string.h>

struct dec {
	const uint8_t *p;
	unsigned avail;
	unsigned pos;
	bool overrun;
};

static uint8_t get8(struct dec *d)
{
	if (d->pos >= d->avail) {
		d->overrun = true;
		d->pos++;
		return 0;
	}
	return d->p[d->pos++];
}

static uint16_t get16(struct dec *d)
{
	uint16_t lo = get8(d);
	return (uint16_t)(lo | get8(d) << 8);
}

static uint32_t get32(struct dec *d)
{
	uint32_t lo = get16(d);
	return lo | (uint32_t)get16(d) << 16;
}

/* Immediate of the operand size (Iz / Iv without 64-bit) */
static uint32_t getz(struct dec *d, const struct insn *i)
{
	return (i->flags & I_O32) ? get32(d) : get16(d);
}

static uint32_t sext8(uint8_t v) { return (uint32_t)(int32_t)(int8_t)v; }
static uint32_t sext16(uint16_t v) { return (uint32_t)(int32_t)(int16_t)v; }

/* Parses ModRM (and SIB, displacement). Fills reg/rm or the address
 * formula; the default segment goes to i->seg unless overridden. */
static void modrm(struct dec *d, struct insn *i, int seg_override)
{
	uint8_t m = get8(d);
	i->modrm = m;
	int mod = m >> 6, rm = m & 7;
	i->rm = (uint8_t)rm;
	i->base = REG_NONE;
	i->index = REG_NONE;
	i->scale = 0;
	i->disp = 0;
	if (mod == 3)
		return;
	i->flags |= I_MEM;
	int seg = SEG_DS;
	if (!(i->flags & I_A32)) {
		static const uint8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
		static const uint8_t x16[8] = { 6, 7, 6, 7, REG_NONE, REG_NONE, REG_NONE, REG_NONE };
		if (mod == 0 && rm == 6) {
			i->disp = get16(d);
		} else {
			i->base = b16[rm];
			i->index = x16[rm];
			if (rm == 2 || rm == 3 || rm == 6)
				seg = SEG_SS;
			if (mod == 1)
				i->disp = sext8(get8(d)) & 0xffff;
			else if (mod == 2)
				i->disp = get16(d);
		}
	} else {
		if (rm == 4) {
			uint8_t sib = get8(d);
			int base = sib & 7, index = (sib >> 3) & 7;
			i->scale = sib >> 6;
			i->index = index == 4 ? REG_NONE : (uint8_t)index;
			if (base == 5 && mod == 0) {
				i->disp = get32(d);
			} else {
				i->base = (uint8_t)base;
				if (base == 4 || base == 5)
					seg = SEG_SS;
			}
		} else if (rm == 5 && mod == 0) {
			i->disp = get32(d);
		} else {
			i->base = (uint8_t)rm;
			if (rm == 5)
				seg = SEG_SS;
		}
		if (mod == 1)
			i->disp += sext8(get8(d));
		else if (mod == 2)
			i->disp += get32(d);
	}
	i->seg = (uint8_t)(seg_override >= 0 ? seg_override : seg);
}

static int mreg(const struct insn *i) { return (i->modrm >> 3) & 7; }

/* Size index: 0 byte, 1 word, 2 dword. */
static int szi(const struct insn *i, bool byte)
{
	return byte ? 0 : (i->flags & I_O32) ? 2 : 1;
}

static uint8_t regop(int n, bool byte) { return (uint8_t)(byte ? reg8_offset(n) : n); }

enum { F_RR, F_RM, F_MR, F_RI, F_MI };

static uint8_t alu_hid(int op, int form, int sz)
{
	return (uint8_t)(H_ADD_RR8 + op * 15 + form * 3 + sz);
}

bool emu_insn_ends_trace(const struct insn *i)
{
	switch (i->hid) {
	case H_JCC: /* not taken, the trace goes on */
		return false;
	case H_JMP: case H_CALL: case H_RET: case H_JMP_RM:
	case H_CALL_RM: case H_LOOP: case H_JCXZ: case H_UD: case H_IN: case H_OUT:
		return true;
	case H_MISC:
		break;
	default:
		return false;
	}
	switch (i->opcode) {
	/* plain data operations: the trace goes on */
	case 0x06: case 0x0e: case 0x16: case 0x1e: case 0x0fa0: case 0x0fa8:
	case 0x1f: case 0x07:
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61:
	case 0x8c: case 0x8f: case 0x9e: case 0x9f: case 0xc8: case 0xc9:
	case 0xd4: case 0xd5: case 0xd6: case 0xd7:
	case 0x0fa4: case 0x0fa5: case 0x0fac: case 0x0fad:
	case 0x0fb0: case 0x0fb1: case 0x0fc0: case 0x0fc1: case 0x0fc7:
	case 0x0fa2: case 0x0f31:
		return false;
	case 0xff: /* PUSH r/m goes on; far CALL and JMP leave */
		return i->op != 6;
	default:
		return true;
	}
}

int emu_decode(const uint8_t *buf, unsigned avail, bool code32, struct insn *i)
{
	struct dec d = { buf, avail, 0, false };
	memset(i, 0, sizeof(*i));
	i->flags = code32 ? (I_O32 | I_A32) : 0;
	i->seg = SEG_NONE;
	int seg_override = -1;

	uint8_t op;
	for (;;) {
		op = get8(&d);
		if (d.overrun)
			return DEC_MORE;
		if (d.pos > 15)
			return DEC_TOOLONG;
		switch (op) {
		case 0x26: seg_override = SEG_ES; continue;
		case 0x2e: seg_override = SEG_CS; continue;
		case 0x36: seg_override = SEG_SS; continue;
		case 0x3e: seg_override = SEG_DS; continue;
		case 0x64: seg_override = SEG_FS; continue;
		case 0x65: seg_override = SEG_GS; continue;
		case 0x66: /* the other operand size, however often repeated */
			i->flags = (uint8_t)(code32 ? i->flags & ~I_O32 : i->flags | I_O32);
			continue;
		case 0x67:
			i->flags = (uint8_t)(code32 ? i->flags & ~I_A32 : i->flags | I_A32);
			continue;
		case 0xf0: i->flags |= I_LOCK; continue;
		case 0xf2: i->flags = (uint8_t)((i->flags & ~I_REP) | I_REPNE); continue;
		case 0xf3: i->flags = (uint8_t)((i->flags & ~I_REPNE) | I_REP); continue;
		}
		break;
	}
	if (seg_override >= 0)
		i->flags |= I_SEGOVR;
	i->amask = (i->flags & I_A32) ? 0xffffffffu : 0xffffu;
	uint16_t opc = op;
	if (op == 0x0f)
		opc = (uint16_t)(0x0f00 | get8(&d));
	i->opcode = opc;
	i->hid = H_MISC;
	/* The default data segment for string and moffs forms. */
	int dseg = seg_override >= 0 ? seg_override : SEG_DS;
	bool byte = !(opc & 1);

	switch (opc) {
	/* ALU ops 00-3F */
	case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11:
	case 0x18: case 0x19: case 0x20: case 0x21: case 0x28: case 0x29:
	case 0x30: case 0x31: case 0x38: case 0x39:
		modrm(&d, i, seg_override);
		if (i->flags & I_MEM) {
			i->reg = regop(mreg(i), byte);
			i->hid = alu_hid(op >> 3, F_MR, szi(i, byte));
		} else {
			i->reg = regop(i->rm, byte);
			i->rm = regop(mreg(i), byte);
			i->hid = alu_hid(op >> 3, F_RR, szi(i, byte));
		}
		break;
	case 0x02: case 0x03: case 0x0a: case 0x0b: case 0x12: case 0x13:
	case 0x1a: case 0x1b: case 0x22: case 0x23: case 0x2a: case 0x2b:
	case 0x32: case 0x33: case 0x3a: case 0x3b:
		modrm(&d, i, seg_override);
		i->reg = regop(mreg(i), byte);
		if (i->flags & I_MEM) {
			i->hid = alu_hid(op >> 3, F_RM, szi(i, byte));
		} else {
			i->rm = regop(i->rm, byte);
			i->hid = alu_hid(op >> 3, F_RR, szi(i, byte));
		}
		break;
	case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
		i->reg = 0;
		i->imm = get8(&d);
		i->hid = alu_hid(op >> 3, F_RI, 0);
		break;
	case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d:
		i->reg = 0;
		i->imm = getz(&d, i);
		i->hid = alu_hid(op >> 3, F_RI, szi(i, false));
		break;
	case 0x80: case 0x81: case 0x82: case 0x83: {
		bool b = op == 0x80 || op == 0x82;
		modrm(&d, i, seg_override);
		if (op == 0x81)
			i->imm = getz(&d, i);
		else if (op == 0x83)
			i->imm = sext8(get8(&d)) & ((i->flags & I_O32) ? 0xffffffffu : 0xffffu);
		else
			i->imm = get8(&d);
		if (i->flags & I_MEM) {
			i->hid = alu_hid(mreg(i), F_MI, szi(i, b));
		} else {
			i->reg = regop(i->rm, b);
			i->hid = alu_hid(mreg(i), F_RI, szi(i, b));
		}
		break;
	}
	case 0x84: case 0x85:
		modrm(&d, i, seg_override);
		if (i->flags & I_MEM) {
			i->reg = regop(mreg(i), byte);
			i->hid = alu_hid(8, F_MR, szi(i, byte));
		} else {
			i->reg = regop(i->rm, byte);
			i->rm = regop(mreg(i), byte);
			i->hid = alu_hid(8, F_RR, szi(i, byte));
		}
		break;
	case 0xa8:
		i->imm = get8(&d);
		i->hid = alu_hid(8, F_RI, 0);
		break;
	case 0xa9:
		i->imm = getz(&d, i);
		i->hid = alu_hid(8, F_RI, szi(i, false));
		break;

	/* MOV */
	case 0x88: case 0x89:
		modrm(&d, i, seg_override);
		if (i->flags & I_MEM) {
			i->reg = regop(mreg(i), byte);
			i->hid = (uint8_t)(H_MOV_MR8 + szi(i, byte));
		} else {
			i->reg = regop(i->rm, byte);
			i->rm = regop(mreg(i), byte);
			i->hid = (uint8_t)(H_MOV_RR8 + szi(i, byte));
		}
		break;
	case 0x8a: case 0x8b:
		modrm(&d, i, seg_override);
		i->reg = regop(mreg(i), byte);
		if (i->flags & I_MEM) {
			i->hid = (uint8_t)(H_MOV_RM8 + szi(i, byte));
		} else {
			i->rm = regop(i->rm, byte);
			i->hid = (uint8_t)(H_MOV_RR8 + szi(i, byte));
		}
		break;
	case 0xc6: case 0xc7:
		modrm(&d, i, seg_override);
		i->imm = byte ? get8(&d) : getz(&d, i);
		if (mreg(i) != 0) {
			i->hid = H_UD;
		} else if (i->flags & I_MEM) {
			i->hid = (uint8_t)(H_MOV_MI8 + szi(i, byte));
		} else {
			i->reg = regop(i->rm, byte);
			i->hid = (uint8_t)(H_MOV_RI8 + szi(i, byte));
		}
		break;
	case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
		i->reg = regop(op & 7, true);
		i->imm = get8(&d);
		i->hid = H_MOV_RI8;
		break;
	case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
		i->reg = op & 7;
		i->imm = getz(&d, i);
		i->hid = (uint8_t)(H_MOV_RI8 + szi(i, false));
		break;
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
		i->flags |= I_MEM;
		i->base = REG_NONE;
		i->index = REG_NONE;
		i->seg = (uint8_t)dseg;
		i->disp = (i->flags & I_A32) ? get32(&d) : get16(&d);
		i->reg = 0;
		i->hid = (uint8_t)((op < 0xa2 ? H_MOV_RM8 : H_MOV_MR8) + szi(i, byte));
		break;

	/* INC/DEC/PUSH/POP register */
	case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
		i->reg = op & 7;
		i->hid = (i->flags & I_O32) ? H_INC_R32 : H_INC_R16;
		break;
	case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
		i->reg = op & 7;
		i->hid = (i->flags & I_O32) ? H_DEC_R32 : H_DEC_R16;
		break;
	case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
		i->reg = op & 7;
		i->hid = (i->flags & I_O32) ? H_PUSH_R32 : H_PUSH_R16;
		break;
	case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
		i->reg = op & 7;
		i->hid = (i->flags & I_O32) ? H_POP_R32 : H_POP_R16;
		break;
	case 0x68:
		i->imm = getz(&d, i);
		i->hid = (i->flags & I_O32) ? H_PUSH_I32 : H_PUSH_I16;
		break;
	case 0x6a:
		i->imm = sext8(get8(&d));
		i->hid = (i->flags & I_O32) ? H_PUSH_I32 : H_PUSH_I16;
		break;
	case 0xfe:
		modrm(&d, i, seg_override);
		if (mreg(i) > 1) {
			i->hid = H_UD;
			break;
		}
		i->op = (uint8_t)mreg(i);
		if (!(i->flags & I_MEM))
			i->rm = regop(i->rm, true);
		i->hid = H_INCDEC_RM;
		break;
	case 0xff:
		modrm(&d, i, seg_override);
		i->op = (uint8_t)mreg(i);
		switch (i->op) {
		case 0: case 1: i->hid = H_INCDEC_RM; break;
		case 2: i->hid = H_CALL_RM; break;
		case 4: i->hid = H_JMP_RM; break;
		case 3: case 5:
			i->hid = (i->flags & I_MEM) ? H_MISC : H_UD;
			break;
		case 6: i->hid = H_MISC; break;
		default: i->hid = H_UD; break;
		}
		break;
	case 0x8d:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->hid = !(i->flags & I_MEM) ? H_UD : (i->flags & I_O32) ? H_LEA32 : H_LEA16;
		break;

	/* control transfer */
	case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
	case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
		i->op = op & 15;
		i->imm = sext8(get8(&d));
		i->hid = H_JCC;
		break;
	case 0x0f80: case 0x0f81: case 0x0f82: case 0x0f83: case 0x0f84: case 0x0f85:
	case 0x0f86: case 0x0f87: case 0x0f88: case 0x0f89: case 0x0f8a: case 0x0f8b:
	case 0x0f8c: case 0x0f8d: case 0x0f8e: case 0x0f8f:
		i->op = opc & 15;
		i->imm = (i->flags & I_O32) ? get32(&d) : sext16(get16(&d));
		i->hid = H_JCC;
		break;
	case 0xeb:
		i->imm = sext8(get8(&d));
		i->hid = H_JMP;
		break;
	case 0xe9:
		i->imm = (i->flags & I_O32) ? get32(&d) : sext16(get16(&d));
		i->hid = H_JMP;
		break;
	case 0xe8:
		i->imm = (i->flags & I_O32) ? get32(&d) : sext16(get16(&d));
		i->hid = H_CALL;
		break;
	case 0xc3:
		i->hid = H_RET;
		break;
	case 0xc2:
		i->imm = get16(&d);
		i->hid = H_RET;
		break;
	case 0xe0: case 0xe1: case 0xe2:
		i->op = op & 3;
		i->imm = sext8(get8(&d));
		i->hid = H_LOOP;
		break;
	case 0xe3:
		i->imm = sext8(get8(&d));
		i->hid = H_JCXZ;
		break;

	/* MOVZX/MOVSX, SETcc, CMOVcc */
	case 0x0fb6: case 0x0fbe:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		if (i->flags & I_MEM) {
			i->hid = opc == 0x0fb6 ? H_MOVZX_M8 : H_MOVSX_M8;
		} else {
			i->rm = regop(i->rm, true);
			i->hid = opc == 0x0fb6 ? H_MOVZX_R8 : H_MOVSX_R8;
		}
		break;
	case 0x0fb7: case 0x0fbf:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		if (i->flags & I_MEM)
			i->hid = opc == 0x0fb7 ? H_MOVZX_M16 : H_MOVSX_M16;
		else
			i->hid = opc == 0x0fb7 ? H_MOVZX_R16 : H_MOVSX_R16;
		break;
	case 0x0f90: case 0x0f91: case 0x0f92: case 0x0f93: case 0x0f94: case 0x0f95:
	case 0x0f96: case 0x0f97: case 0x0f98: case 0x0f99: case 0x0f9a: case 0x0f9b:
	case 0x0f9c: case 0x0f9d: case 0x0f9e: case 0x0f9f:
		modrm(&d, i, seg_override);
		i->op = opc & 15;
		if (!(i->flags & I_MEM))
			i->rm = regop(i->rm, true);
		i->hid = H_SETCC;
		break;
	case 0x0f40: case 0x0f41: case 0x0f42: case 0x0f43: case 0x0f44: case 0x0f45:
	case 0x0f46: case 0x0f47: case 0x0f48: case 0x0f49: case 0x0f4a: case 0x0f4b:
	case 0x0f4c: case 0x0f4d: case 0x0f4e: case 0x0f4f:
		modrm(&d, i, seg_override);
		i->op = opc & 15;
		i->reg = (uint8_t)mreg(i);
		i->hid = H_CMOV;
		break;

	/* XCHG */
	case 0x86: case 0x87:
		modrm(&d, i, seg_override);
		i->reg = regop(mreg(i), byte);
		if (!(i->flags & I_MEM))
			i->rm = regop(i->rm, byte);
		i->hid = H_XCHG;
		break;
	case 0x90:
		i->hid = H_NOP;
		break;
	case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
		i->opcode = 0x87;
		i->reg = 0;
		i->rm = op & 7;
		i->hid = H_XCHG;
		break;

	/* shifts and rotates */
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		modrm(&d, i, seg_override);
		i->op = (uint8_t)mreg(i);
		if (!(i->flags & I_MEM))
			i->rm = regop(i->rm, byte);
		if (op <= 0xc1)
			i->imm = get8(&d);
		else if (op <= 0xd1)
			i->imm = 1;
		else
			i->flags |= I_CL;
		i->hid = H_SHIFT;
		if (!(i->flags & I_MEM) && !byte && (i->flags & I_O32)) {
			static const uint8_t r32[8] = { H_ROT_R32, H_ROT_R32, H_SHIFT, H_SHIFT,
							H_SHL_R32, H_SHR_R32, H_SHL_R32, H_SAR_R32 };
			i->hid = r32[i->op];
		}
		break;

	/* group 3 */
	case 0xf6: case 0xf7:
		modrm(&d, i, seg_override);
		i->op = (uint8_t)mreg(i);
		if (i->op <= 1) {
			i->imm = byte ? get8(&d) : getz(&d, i);
			if (i->flags & I_MEM) {
				i->hid = alu_hid(8, F_MI, szi(i, byte));
			} else {
				i->reg = regop(i->rm, byte);
				i->hid = alu_hid(8, F_RI, szi(i, byte));
			}
		} else {
			if (!(i->flags & I_MEM))
				i->rm = regop(i->rm, byte);
			i->hid = H_GRP3;
		}
		break;
	case 0x0faf:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->hid = H_IMUL;
		break;
	case 0x69: case 0x6b:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->op = 1;
		i->imm = op == 0x69 ? getz(&d, i) : sext8(get8(&d));
		i->hid = H_IMUL;
		break;

	/* strings */
	case 0xa4: case 0xa5: case 0xa6: case 0xa7: case 0xaa: case 0xab:
	case 0xac: case 0xad: case 0xae: case 0xaf:
		i->seg = (uint8_t)dseg;
		i->hid = H_STRING;
		break;

	case 0x98: i->hid = H_CBW; break;
	case 0x99: i->hid = H_CWD; break;
	case 0xf5: case 0xf8: case 0xf9: case 0xfc: case 0xfd:
		i->op = op;
		i->hid = H_FLAGOP;
		break;

	/* bit operations */
	case 0x0fa3: case 0x0fab: case 0x0fb3: case 0x0fbb:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->op = (uint8_t)((opc >> 3) & 3);
		i->hid = H_BT;
		break;
	case 0x0fba:
		modrm(&d, i, seg_override);
		i->imm = get8(&d);
		if (mreg(i) < 4) {
			i->hid = H_UD;
			break;
		}
		i->op = (uint8_t)(mreg(i) & 3);
		i->flags |= I_CL; /* here: "bit offset is an immediate" */
		i->hid = H_BT;
		break;
	case 0x0fbc: case 0x0fbd:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->op = opc & 1;
		i->hid = H_BITSCAN;
		break;
	case 0x0fc8: case 0x0fc9: case 0x0fca: case 0x0fcb: case 0x0fcc: case 0x0fcd:
	case 0x0fce: case 0x0fcf:
		i->reg = opc & 7;
		i->hid = H_BSWAP;
		break;

	/* port I/O */
	case 0xe4: case 0xe5: case 0xe6: case 0xe7:
		i->imm = get8(&d);
		i->hid = op < 0xe6 ? H_IN : H_OUT;
		break;
	case 0xec: case 0xed:
		i->flags |= I_CL; /* port from DX */
		i->hid = H_IN;
		break;
	case 0xee: case 0xef:
		i->flags |= I_CL;
		i->hid = H_OUT;
		break;

	/* hint NOPs (P6 family: 0F 18-1F with ModRM) */
	case 0x0f18: case 0x0f19: case 0x0f1a: case 0x0f1b: case 0x0f1c:
	case 0x0f1d: case 0x0f1e: case 0x0f1f:
		modrm(&d, i, seg_override);
		i->hid = H_NOP;
		break;

	/* -------- everything else runs through MISC; decode operands -------- */
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f:
	case 0x60: case 0x61: case 0x6c: case 0x6d: case 0x6e: case 0x6f:
	case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
	case 0xc9: case 0xcb: case 0xcc: case 0xce: case 0xcf: case 0xd6: case 0xd7:
	case 0xf1: case 0xf4: case 0xfa: case 0xfb:
	case 0x0f06: case 0x0f08: case 0x0f09: case 0x0f30: case 0x0f31: case 0x0f32:
	case 0x0f33: case 0x0f34: case 0x0f35: case 0x0fa0: case 0x0fa1: case 0x0fa2:
	case 0x0fa8: case 0x0fa9:
		i->seg = (uint8_t)dseg;
		break;
	case 0xca:
		i->imm = get16(&d);
		break;
	case 0xcd: case 0xd4: case 0xd5:
		i->imm = get8(&d);
		break;
	case 0xc8:
		i->imm = get16(&d);
		i->imm2 = get8(&d);
		break;
	case 0x9a: case 0xea:
		i->imm = getz(&d, i);
		i->imm2 = get16(&d);
		break;
	case 0x62: case 0x63: case 0x8c: case 0x8e: case 0x8f: case 0xc4: case 0xc5:
	case 0x0f00: case 0x0f01: case 0x0f02: case 0x0f03: case 0x0f20: case 0x0f21:
	case 0x0f22: case 0x0f23: case 0x0fb0: case 0x0fb1: case 0x0fb2: case 0x0fb4:
	case 0x0fb5: case 0x0fc0: case 0x0fc1: case 0x0fc7: case 0x0fae:
	case 0x0fa5: case 0x0fad:
	case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf:
		modrm(&d, i, seg_override);
		/* MISC routines take raw register numbers */
		i->reg = (uint8_t)mreg(i);
		break;
	case 0x0fa4: case 0x0fac:
		modrm(&d, i, seg_override);
		i->reg = (uint8_t)mreg(i);
		i->imm = get8(&d);
		break;
	case 0x0f0b: /* UD2 */
	default:
		i->hid = H_UD;
		break;
	}
	if (d.overrun)
		return DEC_MORE;
	if (d.pos > 15)
		return DEC_TOOLONG;
	i->len = (uint8_t)d.pos;
	/* LOCK is allowed only on read-modify-write forms with a memory
	 * destination; anything else is #UD. */
	if ((i->flags & I_LOCK) && i->hid != H_UD) {
		bool ok = false;
		if (i->flags & I_MEM) {
			switch (opc) {
			case 0x00: case 0x01: case 0x08: case 0x09: case 0x10: case 0x11:
			case 0x18: case 0x19: case 0x20: case 0x21: case 0x28: case 0x29:
			case 0x30: case 0x31: case 0x80: case 0x81: case 0x82: case 0x83:
			case 0x86: case 0x87: case 0xfe: case 0x0fab: case 0x0fb3: case 0x0fbb:
			case 0x0fb0: case 0x0fb1: case 0x0fc0: case 0x0fc1:
				ok = opc < 0x80 || opc > 0x83 || mreg(i) != 7;
				break;
			case 0xf6: case 0xf7: ok = mreg(i) == 2 || mreg(i) == 3; break;
			case 0xff: ok = mreg(i) <= 1; break;
			case 0x0fba: ok = mreg(i) >= 5; break;
			case 0x0fc7: ok = mreg(i) == 1; break;
			}
		}
		if (!ok)
			i->hid = H_UD;
	}
	return DEC_OK;
}
