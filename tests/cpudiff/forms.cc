// The instruction table and the generators of differential test cases.
// Each table row is one opcode and operand form in Intel SDM vol. 2
// notation ("01 /r", "83 /0 ib", "0F AF /r"), with its operand size class,
// the flags it defines, leaves undefined (vol. 2 instruction pages; Sandpile
// for what those leave open) and reads, and a hook for forms whose operands
// need shaping (division, counts, bit offsets, selectors). A row expands
// into cases for 16- and 32-bit code and, for "v" rows, both operand sizes
// (66h prefix), with register and memory operands over every addressing
// form the mode allows (67h prefix included).
#include "cpudiff.h"

#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <set>

namespace {

enum : uint32_t {
	F_ALL = CPUD_ARITH,
	F_LOGIC_DEF = CPUD_CF | CPUD_PF | CPUD_ZF | CPUD_SF | CPUD_OF,
	F_INCDEC = CPUD_ARITH & ~CPUD_CF,
	F_SZP = CPUD_SF | CPUD_ZF | CPUD_PF,
};

// Row attributes.
enum : unsigned {
	A_M = 1u << 0,       // r/m must be memory
	A_R = 1u << 1,       // r/m must be a register
	A_LOCK = 1u << 2,    // LOCK allowed with a memory operand
	A_STK = 1u << 3,     // uses the stack
	A_NOSTREAM = 1u << 4, // not in random streams
	A_CPL3 = 1u << 5,    // its outcome depends on running at CPL 3
	A_ONLY16 = 1u << 6,  // 16-bit code only
	A_NOMEM_ACCESS = 1u << 7, // r/m is an address only (LEA)
	A_RDREG_ONLY = 1u << 8,   // reg field is read only (for streams: ESP ok)
};

enum hook {
	H_NONE,
	H_DIV,       // dividend high half near the divisor, sometimes #DE
	H_IDIV,
	H_SH1,       // shift/rotate by 1
	H_SHCL,      // by CL
	H_SHIB,      // by imm8
	H_SHXD_CL,
	H_SHXD_IB,
	H_BT_REG,    // bit offset in a register (memory operand: any offset)
	H_BT_IMM,
	H_BSF,
	H_AAM,
	H_AAD,
	H_BCD,       // DAA/DAS/AAA/AAS: AL and AF/CF inputs
	H_BOUND,
	H_XLAT,
	H_ENTER,
	H_POPF,
	H_PUSH_SREG, // 32-bit pushes of a selector may write 16 bits only
	H_LOAD_SREG, // MOV Sreg / POP Sreg / LDS...: selector values
	H_SELTEST,   // LAR/LSL/VERR/VERW: selector values
	H_CMPXCHG,
	H_CMPXCHG8B,
	H_POPMEM,    // POP r/m (ESP-relative operands after the pop)
	H_STACKVAL,  // POP/RET...: a word on the stack to load
	H_ARPL,
	H_LEA,
};

struct form {
	const char *name;
	const char *enc;
	char size;        // 'b' byte, 'v' 16/32, 'w' word, 'd' dword, '-' none
	uint32_t fdef;    // flags written with a defined value
	uint32_t fundef;  // flags left undefined
	uint32_t fin;     // flags read
	unsigned attr;
	enum hook hook;
};

#define NOFL 0, 0, 0

const form k_forms[] = {
	// ALU: eight operations in six encodings each.
#define ALU(op, n, und, fin) \
	{n " r/m8, r8", #op "0 /r", 'b', F_ALL & ~(und), und, fin, A_LOCK, H_NONE }, \
	{n " r/m, r", #op "1 /r", 'v', F_ALL & ~(und), und, fin, A_LOCK, H_NONE }, \
	{n " r8, r/m8", #op "2 /r", 'b', F_ALL & ~(und), und, fin, 0, H_NONE }, \
	{n " r, r/m", #op "3 /r", 'v', F_ALL & ~(und), und, fin, 0, H_NONE }, \
	{n " AL, imm8", #op "4 ib", 'b', F_ALL & ~(und), und, fin, 0, H_NONE }, \
	{n " eAX, imm", #op "5 iz", 'v', F_ALL & ~(und), und, fin, 0, H_NONE }
	ALU(0, "ADD", 0, 0),
	ALU(1, "ADC", 0, CPUD_CF),
	ALU(2, "AND", CPUD_AF, 0),
	ALU(3, "XOR", CPUD_AF, 0),
#undef ALU
	{"OR r/m8, r8", "08 /r", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, A_LOCK, H_NONE},
	{"OR r/m, r", "09 /r", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, A_LOCK, H_NONE},
	{"OR r8, r/m8", "0A /r", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"OR r, r/m", "0B /r", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"OR AL, imm8", "0C ib", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"OR eAX, imm", "0D iz", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"SBB r/m8, r8", "18 /r", 'b', F_ALL, 0, CPUD_CF, A_LOCK, H_NONE},
	{"SBB r/m, r", "19 /r", 'v', F_ALL, 0, CPUD_CF, A_LOCK, H_NONE},
	{"SBB r8, r/m8", "1A /r", 'b', F_ALL, 0, CPUD_CF, 0, H_NONE},
	{"SBB r, r/m", "1B /r", 'v', F_ALL, 0, CPUD_CF, 0, H_NONE},
	{"SBB AL, imm8", "1C ib", 'b', F_ALL, 0, CPUD_CF, 0, H_NONE},
	{"SBB eAX, imm", "1D iz", 'v', F_ALL, 0, CPUD_CF, 0, H_NONE},
	{"SUB r/m8, r8", "28 /r", 'b', F_ALL, 0, 0, A_LOCK, H_NONE},
	{"SUB r/m, r", "29 /r", 'v', F_ALL, 0, 0, A_LOCK, H_NONE},
	{"SUB r8, r/m8", "2A /r", 'b', F_ALL, 0, 0, 0, H_NONE},
	{"SUB r, r/m", "2B /r", 'v', F_ALL, 0, 0, 0, H_NONE},
	{"SUB AL, imm8", "2C ib", 'b', F_ALL, 0, 0, 0, H_NONE},
	{"SUB eAX, imm", "2D iz", 'v', F_ALL, 0, 0, 0, H_NONE},
	{"CMP r/m8, r8", "38 /r", 'b', F_ALL, 0, 0, 0, H_NONE},
	{"CMP r/m, r", "39 /r", 'v', F_ALL, 0, 0, 0, H_NONE},
	{"CMP r8, r/m8", "3A /r", 'b', F_ALL, 0, 0, 0, H_NONE},
	{"CMP r, r/m", "3B /r", 'v', F_ALL, 0, 0, 0, H_NONE},
	{"CMP AL, imm8", "3C ib", 'b', F_ALL, 0, 0, 0, H_NONE},
	{"CMP eAX, imm", "3D iz", 'v', F_ALL, 0, 0, 0, H_NONE},
	// Group 1 with immediates (82 is the 8-bit alias of 80).
#define G1(r, n, und, fin, lk) \
	{n " r/m8, imm8", "80 /" #r " ib", 'b', F_ALL & ~(und), und, fin, lk, H_NONE}, \
	{n " r/m, imm", "81 /" #r " iz", 'v', F_ALL & ~(und), und, fin, lk, H_NONE}, \
	{n " r/m8, imm8 (82)", "82 /" #r " ib", 'b', F_ALL & ~(und), und, fin, lk, H_NONE}, \
	{n " r/m, simm8", "83 /" #r " ib", 'v', F_ALL & ~(und), und, fin, lk, H_NONE}
	G1(0, "ADD", 0, 0, A_LOCK),
	G1(1, "OR", CPUD_AF, 0, A_LOCK),
	G1(2, "ADC", 0, CPUD_CF, A_LOCK),
	G1(3, "SBB", 0, CPUD_CF, A_LOCK),
	G1(4, "AND", CPUD_AF, 0, A_LOCK),
	G1(5, "SUB", 0, 0, A_LOCK),
	G1(6, "XOR", CPUD_AF, 0, A_LOCK),
	G1(7, "CMP", 0, 0, 0),
#undef G1
	{"TEST r/m8, r8", "84 /r", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"TEST r/m, r", "85 /r", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"TEST AL, imm8", "A8 ib", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"TEST eAX, imm", "A9 iz", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"TEST r/m8, imm8", "F6 /0 ib", 'b', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"TEST r/m, imm", "F7 /0 iz", 'v', F_ALL & ~CPUD_AF, CPUD_AF, 0, 0, H_NONE},
	{"INC r/m8", "FE /0", 'b', F_INCDEC, 0, 0, A_LOCK, H_NONE},
	{"DEC r/m8", "FE /1", 'b', F_INCDEC, 0, 0, A_LOCK, H_NONE},
	{"INC r/m", "FF /0", 'v', F_INCDEC, 0, 0, A_LOCK, H_NONE},
	{"DEC r/m", "FF /1", 'v', F_INCDEC, 0, 0, A_LOCK, H_NONE},
	{"INC r", "40 +r", 'v', F_INCDEC, 0, 0, 0, H_NONE},
	{"DEC r", "48 +r", 'v', F_INCDEC, 0, 0, 0, H_NONE},
	{"NOT r/m8", "F6 /2", 'b', NOFL, A_LOCK, H_NONE},
	{"NOT r/m", "F7 /2", 'v', NOFL, A_LOCK, H_NONE},
	{"NEG r/m8", "F6 /3", 'b', F_ALL, 0, 0, A_LOCK, H_NONE},
	{"NEG r/m", "F7 /3", 'v', F_ALL, 0, 0, A_LOCK, H_NONE},
	// Multiplication and division.
	{"MUL r/m8", "F6 /4", 'b', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"MUL r/m", "F7 /4", 'v', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"IMUL r/m8", "F6 /5", 'b', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"IMUL r/m", "F7 /5", 'v', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"IMUL r, r/m", "0F AF /r", 'v', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"IMUL r, r/m, imm", "69 /r iz", 'v', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"IMUL r, r/m, simm8", "6B /r ib", 'v', CPUD_CF | CPUD_OF, F_SZP | CPUD_AF, 0, 0, H_NONE},
	{"DIV r/m8", "F6 /6", 'b', 0, F_ALL, 0, 0, H_DIV},
	{"DIV r/m", "F7 /6", 'v', 0, F_ALL, 0, 0, H_DIV},
	{"IDIV r/m8", "F6 /7", 'b', 0, F_ALL, 0, 0, H_IDIV},
	{"IDIV r/m", "F7 /7", 'v', 0, F_ALL, 0, 0, H_IDIV},
	// Shifts and rotates: ROL ROR RCL RCR SHL SHR SAL(alias) SAR.
#define SH(r, n, fin) \
	{n " r/m8, 1", "D0 /" #r, 'b', 0, 0, fin, 0, H_SH1}, \
	{n " r/m, 1", "D1 /" #r, 'v', 0, 0, fin, 0, H_SH1}, \
	{n " r/m8, CL", "D2 /" #r, 'b', 0, 0, fin, 0, H_SHCL}, \
	{n " r/m, CL", "D3 /" #r, 'v', 0, 0, fin, 0, H_SHCL}, \
	{n " r/m8, imm8", "C0 /" #r " ib", 'b', 0, 0, fin, 0, H_SHIB}, \
	{n " r/m, imm8", "C1 /" #r " ib", 'v', 0, 0, fin, 0, H_SHIB}
	SH(0, "ROL", 0), SH(1, "ROR", 0), SH(2, "RCL", CPUD_CF), SH(3, "RCR", CPUD_CF),
	SH(4, "SHL", 0), SH(5, "SHR", 0), SH(6, "SAL(/6)", 0), SH(7, "SAR", 0),
#undef SH
	{"SHLD r/m, r, imm8", "0F A4 /r ib", 'v', 0, 0, 0, 0, H_SHXD_IB},
	{"SHLD r/m, r, CL", "0F A5 /r", 'v', 0, 0, 0, 0, H_SHXD_CL},
	{"SHRD r/m, r, imm8", "0F AC /r ib", 'v', 0, 0, 0, 0, H_SHXD_IB},
	{"SHRD r/m, r, CL", "0F AD /r", 'v', 0, 0, 0, 0, H_SHXD_CL},
	// Bit tests and scans.
	{"BT r/m, r", "0F A3 /r", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_RDREG_ONLY, H_BT_REG},
	{"BTS r/m, r", "0F AB /r", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK | A_RDREG_ONLY, H_BT_REG},
	{"BTR r/m, r", "0F B3 /r", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK | A_RDREG_ONLY, H_BT_REG},
	{"BTC r/m, r", "0F BB /r", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK | A_RDREG_ONLY, H_BT_REG},
	{"BT r/m, imm8", "0F BA /4 ib", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, 0, H_BT_IMM},
	{"BTS r/m, imm8", "0F BA /5 ib", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK, H_BT_IMM},
	{"BTR r/m, imm8", "0F BA /6 ib", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK, H_BT_IMM},
	{"BTC r/m, imm8", "0F BA /7 ib", 'v', CPUD_CF, CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, A_LOCK, H_BT_IMM},
	{"BSF r, r/m", "0F BC /r", 'v', CPUD_ZF, CPUD_CF | CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, 0, H_BSF},
	{"BSR r, r/m", "0F BD /r", 'v', CPUD_ZF, CPUD_CF | CPUD_OF | CPUD_SF | CPUD_AF | CPUD_PF, 0, 0, H_BSF},
	{"BSWAP r32", "0F C8 +r", 'd', NOFL, 0, H_NONE},
	// Exchange and compare-exchange.
	{"XCHG r/m8, r8", "86 /r", 'b', NOFL, A_LOCK, H_NONE},
	{"XCHG r/m, r", "87 /r", 'v', NOFL, A_LOCK, H_NONE},
	{"XCHG eAX, r", "90 +r", 'v', NOFL, 0, H_NONE},
	{"XADD r/m8, r8", "0F C0 /r", 'b', F_ALL, 0, 0, A_LOCK, H_NONE},
	{"XADD r/m, r", "0F C1 /r", 'v', F_ALL, 0, 0, A_LOCK, H_NONE},
	{"CMPXCHG r/m8, r8", "0F B0 /r", 'b', F_ALL, 0, 0, A_LOCK, H_CMPXCHG},
	{"CMPXCHG r/m, r", "0F B1 /r", 'v', F_ALL, 0, 0, A_LOCK, H_CMPXCHG},
	{"CMPXCHG8B m64", "0F C7 /1", '-', CPUD_ZF, 0, 0, A_M | A_LOCK, H_CMPXCHG8B},
	// Moves and conversions.
	{"MOV r/m8, r8", "88 /r", 'b', NOFL, 0, H_NONE},
	{"MOV r/m, r", "89 /r", 'v', NOFL, 0, H_NONE},
	{"MOV r8, r/m8", "8A /r", 'b', NOFL, 0, H_NONE},
	{"MOV r, r/m", "8B /r", 'v', NOFL, 0, H_NONE},
	{"MOV r8, imm8", "B0 +r ib", 'b', NOFL, 0, H_NONE},
	{"MOV r, imm", "B8 +r iz", 'v', NOFL, 0, H_NONE},
	{"MOV r/m8, imm8", "C6 /0 ib", 'b', NOFL, 0, H_NONE},
	{"MOV r/m, imm", "C7 /0 iz", 'v', NOFL, 0, H_NONE},
	{"MOV AL, moffs8", "A0 mo", 'b', NOFL, 0, H_NONE},
	{"MOV eAX, moffs", "A1 mo", 'v', NOFL, 0, H_NONE},
	{"MOV moffs8, AL", "A2 mo", 'b', NOFL, 0, H_NONE},
	{"MOV moffs, eAX", "A3 mo", 'v', NOFL, 0, H_NONE},
	{"MOVZX r, r/m8", "0F B6 /r", 'v', NOFL, 0, H_NONE},
	{"MOVZX r, r/m16", "0F B7 /r", 'v', NOFL, 0, H_NONE},
	{"MOVSX r, r/m8", "0F BE /r", 'v', NOFL, 0, H_NONE},
	{"MOVSX r, r/m16", "0F BF /r", 'v', NOFL, 0, H_NONE},
	{"CBW/CWDE", "98", 'v', NOFL, 0, H_NONE},
	{"CWD/CDQ", "99", 'v', NOFL, 0, H_NONE},
	{"LEA r, m", "8D /r", 'v', NOFL, A_M | A_NOMEM_ACCESS, H_LEA},
	{"XLAT", "D7", '-', NOFL, 0, H_XLAT},
	{"NOP", "90", '-', NOFL, 0, H_NONE},
	{"NOP r/m", "0F 1F /0", 'v', NOFL, 0, H_NONE},
	// Condition codes.
	{"SETcc r/m8", "0F 9c /0", 'b', 0, 0, F_ALL, 0, H_NONE},
	{"CMOVcc r, r/m", "0F 4c /r", 'v', 0, 0, F_ALL, 0, H_NONE},
	{"LAHF", "9F", '-', 0, 0, F_ALL, 0, H_NONE},
	{"SAHF", "9E", '-', F_ALL & ~CPUD_OF, 0, 0, 0, H_NONE},
	{"CLC", "F8", '-', CPUD_CF, 0, 0, 0, H_NONE},
	{"STC", "F9", '-', CPUD_CF, 0, 0, 0, H_NONE},
	{"CMC", "F5", '-', CPUD_CF, 0, CPUD_CF, 0, H_NONE},
	{"CLD", "FC", '-', CPUD_DF, 0, 0, 0, H_NONE},
	{"STD", "FD", '-', CPUD_DF, 0, 0, 0, H_NONE},
	// Decimal arithmetic.
	{"DAA", "27", '-', F_ALL & ~CPUD_OF, CPUD_OF, CPUD_AF | CPUD_CF, 0, H_BCD},
	{"DAS", "2F", '-', F_ALL & ~CPUD_OF, CPUD_OF, CPUD_AF | CPUD_CF, 0, H_BCD},
	{"AAA", "37", '-', CPUD_AF | CPUD_CF, CPUD_OF | F_SZP, CPUD_AF, 0, H_BCD},
	{"AAS", "3F", '-', CPUD_AF | CPUD_CF, CPUD_OF | F_SZP, CPUD_AF, 0, H_BCD},
	{"AAM imm8", "D4 ib", '-', F_SZP, CPUD_OF | CPUD_AF | CPUD_CF, 0, 0, H_AAM},
	{"AAD imm8", "D5 ib", '-', F_SZP, CPUD_OF | CPUD_AF | CPUD_CF, 0, 0, H_AAD},
	// Stack.
	{"PUSH r", "50 +r", 'v', NOFL, A_STK, H_NONE},
	{"POP r", "58 +r", 'v', NOFL, A_STK, H_STACKVAL},
	{"PUSH r/m", "FF /6", 'v', NOFL, A_STK, H_NONE},
	{"POP r/m", "8F /0", 'v', NOFL, A_STK | A_NOSTREAM, H_POPMEM},
	{"PUSH imm", "68 iz", 'v', NOFL, A_STK, H_NONE},
	{"PUSH simm8", "6A ib", 'v', NOFL, A_STK, H_NONE},
	{"PUSHA", "60", 'v', NOFL, A_STK, H_NONE},
	{"POPA", "61", 'v', NOFL, A_STK, H_STACKVAL},
	{"PUSHF", "9C", 'v', 0, 0, F_ALL, A_STK, H_NONE},
	{"POPF", "9D", 'v', F_ALL, 0, 0, A_STK | A_CPL3, H_POPF},
	{"ENTER imm16, imm8", "C8 iw ib", 'v', NOFL, A_STK | A_NOSTREAM, H_ENTER},
	{"LEAVE", "C9", 'v', NOFL, A_STK | A_NOSTREAM, H_STACKVAL},
	// Segment registers (selectors as Linux and the harness share them).
	{"PUSH ES", "06", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"PUSH CS", "0E", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"PUSH SS", "16", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"PUSH DS", "1E", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"PUSH FS", "0F A0", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"PUSH GS", "0F A8", 'v', NOFL, A_STK | A_CPL3, H_PUSH_SREG},
	{"MOV r/m16, Sreg", "8C /s", 'v', NOFL, A_CPL3, H_NONE},
	{"MOV ES, r/m16", "8E /0", 'w', NOFL, A_CPL3 | A_NOSTREAM, H_LOAD_SREG},
	{"MOV DS, r/m16", "8E /3", 'w', NOFL, A_CPL3 | A_NOSTREAM, H_LOAD_SREG},
	{"POP ES", "07", 'v', NOFL, A_STK | A_CPL3 | A_NOSTREAM, H_LOAD_SREG},
	{"POP DS", "1F", 'v', NOFL, A_STK | A_CPL3 | A_NOSTREAM, H_LOAD_SREG},
	{"LAR r, r/m16", "0F 02 /r", 'v', CPUD_ZF, 0, 0, A_CPL3 | A_NOSTREAM, H_SELTEST},
	{"LSL r, r/m16", "0F 03 /r", 'v', CPUD_ZF, 0, 0, A_CPL3 | A_NOSTREAM, H_SELTEST},
	{"VERR r/m16", "0F 00 /4", 'w', CPUD_ZF, 0, 0, A_CPL3 | A_NOSTREAM, H_SELTEST},
	{"VERW r/m16", "0F 00 /5", 'w', CPUD_ZF, 0, 0, A_CPL3 | A_NOSTREAM, H_SELTEST},
	{"ARPL r/m16, r16", "63 /r", 'w', CPUD_ZF, 0, 0, A_NOSTREAM, H_ARPL},
	// Bounds.
	{"BOUND r, m", "62 /r", 'v', NOFL, A_M, H_BOUND},
	// Privileged at CPL 3 with IOPL 0: #GP(0) (needs CPL 3).
	{"HLT", "F4", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"CLI", "FA", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"STI", "FB", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"IN AL, imm8", "E4 ib", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"OUT DX, AL", "EE", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"INSB", "6C", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"MOV r32, CR0", "0F 20 /0", '-', NOFL, A_CPL3 | A_NOSTREAM | A_R, H_NONE},
	// Interrupts and invalid opcodes.
	{"INT3", "CC", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"INT 3", "CD 03", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"INTO", "CE", '-', 0, 0, CPUD_OF, A_CPL3 | A_NOSTREAM, H_NONE},
	{"INT imm8 (DPL 0 gate)", "CD 41", '-', NOFL, A_CPL3 | A_NOSTREAM, H_NONE},
	{"UD2", "0F 0B", '-', NOFL, A_NOSTREAM, H_NONE},
	{"LOCK NOP (#UD)", "F0 90", '-', NOFL, A_NOSTREAM, H_NONE},
	{"16 prefixes (#GP)", "pf", '-', NOFL, A_NOSTREAM, H_NONE},
};

// Register and memory values worth trying, by operand size.
uint32_t interesting(cd_rng &r, int bits)
{
	static const uint32_t pool[] = {
		0, 1, 2, 3, 0x7f, 0x80, 0x81, 0xff, 0x100, 0x7fff, 0x8000, 0x8001,
		0xffff, 0x10000, 0x7fffffff, 0x80000000, 0x80000001, 0xffffffff,
		0xfffffffe, 0x55555555, 0xaaaaaaaa, 0x0f0f0f0f, 0x12345678,
	};
	uint32_t mask = bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
	uint32_t v;
	switch (r.below(8)) {
	case 0: case 1: case 2:
		v = pool[r.below(sizeof(pool) / sizeof(pool[0]))];
		break;
	case 3: // sign boundary of this size, +/- 1
		v = (1u << (bits - 1)) + r.below(3) - 1;
		break;
	case 4: // all ones / zero of this size, +/- small
		v = (r.chance(50) ? mask : 0) + r.below(5) - 2;
		break;
	default:
		v = r.u32();
		break;
	}
	return v & mask;
}

// One instruction being built.
struct gen {
	cd_rng &r;
	cd_case &c;
	bool stream;      // part of a random stream: setup goes in the code
	int osz = 32;     // operand size in bits (8/16/32)
	int asz = 32;     // address size
	int cs_bits = 32; // code size
	bool fixed[8] = {}; // registers whose value is set already
	uint32_t regs[8] = {};
	std::vector<uint8_t> pre;  // setup instructions (streams)
	std::vector<uint8_t> ins;  // the instruction
	uint32_t mem_off = 0;      // data offset of the memory operand
	bool has_mem = false;
	int rm_reg = -1;           // register operand in r/m, if any
	int reg_reg = -1;          // register operand in reg, if any
	gen(cd_rng &rr, cd_case &cc, bool s) : r(rr), c(cc), stream(s) {}

	void set_reg(int i, uint32_t v)
	{
		regs[i] = v;
		fixed[i] = true;
	}
	// The data-area offset of a linear address in the current mode.
	uint32_t lin(uint32_t off) const
	{
		return cs_bits == 16 ? off : CPUD_DATA_BASE + off;
	}
	void poke(uint32_t off, uint64_t v, unsigned n)
	{
		std::vector<uint8_t> b(n);
		for (unsigned i = 0; i < n; i++)
			b[i] = (uint8_t)(v >> (8 * i));
		c.mem.push_back({off, b});
	}
};

// Odd numbers are invertible modulo 2^32.
uint32_t inv_odd(uint32_t a)
{
	uint32_t x = a;
	for (int i = 0; i < 5; i++)
		x *= 2 - a * x;
	return x;
}

// Emits ModRM (+SIB, +disp) for a memory operand at data offset `off`
// (roughly: the solver may move it down by up to 7 bytes for a scaled
// index), choosing among every addressing form of the address size and
// setting the registers that take part. Returns the offset used.
uint32_t emit_mem(gen &g, int regfield, uint32_t off, bool any_addr)
{
	auto &b = g.ins;
	for (int attempt = 0; attempt < 50; attempt++) {
		uint32_t coef[8] = {};
		int disp_bytes = 0;
		bool disp_free = false;
		std::vector<uint8_t> enc;
		uint32_t amask = g.asz == 16 ? 0xffffu : 0xffffffffu;
		if (g.asz == 16) {
			int rm = (int)g.r.below(8), mod = (int)g.r.below(3);
			static const int8_t base16[8][2] = {
				{3, 6}, {3, 7}, {5, 6}, {5, 7}, {6, -1}, {7, -1}, {5, -1}, {3, -1}};
			if (mod == 0 && rm == 6) {
				disp_bytes = 2;
				disp_free = true;
			} else {
				for (int k = 0; k < 2; k++)
					if (base16[rm][k] >= 0)
						coef[base16[rm][k]] += 1;
				disp_bytes = mod == 1 ? 1 : mod == 2 ? 2 : 0;
				disp_free = mod == 2;
			}
			enc.push_back((uint8_t)(mod << 6 | regfield << 3 | rm));
		} else {
			int mod = (int)g.r.below(3), rm = (int)g.r.below(8);
			if (mod == 0 && rm == 5) {
				disp_bytes = 4;
				disp_free = true;
				enc.push_back((uint8_t)(regfield << 3 | 5));
			} else if (rm == 4) {
				int ss = (int)g.r.below(4), idx = (int)g.r.below(8),
				    base = (int)g.r.below(8);
				enc.push_back((uint8_t)(mod << 6 | regfield << 3 | 4));
				enc.push_back((uint8_t)(ss << 6 | idx << 3 | base));
				if (idx != 4)
					coef[idx] += 1u << ss;
				if (base == 5 && mod == 0) {
					disp_bytes = 4;
					disp_free = true;
				} else {
					coef[base] += 1;
				}
				if (mod)
					disp_bytes = mod == 1 ? 1 : 4;
				if (mod == 2)
					disp_free = true;
			} else {
				enc.push_back((uint8_t)(mod << 6 | regfield << 3 | rm));
				coef[rm] += 1;
				disp_bytes = mod == 1 ? 1 : mod == 2 ? 4 : 0;
				disp_free = mod == 2;
			}
		}
		// In streams, address registers are set by a MOV before the
		// instruction, which ESP cannot take.
		if (g.stream && coef[4])
			continue;
		uint32_t want = any_addr ? g.r.u32() : g.lin(off);
		uint32_t vals[8];
		memcpy(vals, g.regs, sizeof(vals));
		int solve = -1;
		for (int i = 0; i < 8; i++) {
			if (!coef[i] || g.fixed[i])
				continue;
			if (solve < 0 && (coef[i] & 1) && !disp_free)
				solve = i;
			else
				vals[i] = g.r.u32();
		}
		uint32_t disp = 0;
		if (disp_bytes == 1)
			disp = (uint32_t)(int32_t)(int8_t)g.r.u32();
		else if (disp_bytes)
			disp = g.r.u32();
		uint32_t sum = 0;
		for (int i = 0; i < 8; i++)
			if (coef[i] && i != solve)
				sum += coef[i] * vals[i];
		if (any_addr) {
			if (solve >= 0)
				vals[solve] = g.r.u32();
		} else if (disp_free) {
			disp = (want - sum) & amask;
			if (disp_bytes == 2 && g.asz == 16)
				disp &= 0xffff;
		} else if (solve >= 0) {
			vals[solve] = (want - sum - disp) * inv_odd(coef[solve]);
		} else {
			// Only an even-scaled index is free, or nothing is:
			// the address is what it is; keep it if it lands in
			// the operand area.
			int even = -1;
			for (int i = 0; i < 8; i++)
				if (coef[i] && !g.fixed[i])
					even = i;
			if (even >= 0) {
				uint32_t k = coef[even];
				uint32_t rest = (want - sum - disp + k * vals[even]) & amask;
				(void)rest;
				uint32_t diff = (want - (sum - k * vals[even]) - disp);
				diff -= diff % k;
				vals[even] = diff / k;
			}
		}
		uint32_t ea = disp;
		for (int i = 0; i < 8; i++)
			if (coef[i])
				ea += coef[i] * vals[i];
		ea &= amask;
		if (!any_addr) {
			uint32_t o = g.cs_bits == 16 ? ea : ea - CPUD_DATA_BASE;
			if (o < CD_OPND_LO || o + 16 > CPUD_DATA_SIZE ||
			    (g.cs_bits == 32 && g.asz == 16))
				continue;
			off = o;
		}
		for (int i = 0; i < 8; i++)
			if (coef[i] && !g.fixed[i])
				g.set_reg(i, vals[i]);
		b.insert(b.end(), enc.begin(), enc.end());
		for (int i = 0; i < disp_bytes; i++)
			b.push_back((uint8_t)(disp >> (8 * i)));
		return off;
	}
	// Fallback: [disp] absolute.
	if (g.asz == 16) {
		b.push_back((uint8_t)(regfield << 3 | 6));
		b.push_back((uint8_t)g.lin(off));
		b.push_back((uint8_t)(g.lin(off) >> 8));
	} else {
		b.push_back((uint8_t)(regfield << 3 | 5));
		uint32_t a = g.lin(off);
		for (int i = 0; i < 4; i++)
			b.push_back((uint8_t)(a >> (8 * i)));
	}
	return off;
}

void emit_imm(gen &g, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		g.ins.push_back((uint8_t)(v >> (8 * i)));
}

uint32_t size_mask(int bits)
{
	return bits >= 32 ? 0xffffffffu : (1u << bits) - 1;
}

int hexval(const char *s)
{
	int v = 0;
	for (int i = 0; i < 2; i++) {
		char ch = s[i];
		v = v * 16 + (ch >= '0' && ch <= '9' ? ch - '0'
			      : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
			      : ch - 'A' + 10);
	}
	return v;
}

// Stack pointer for a case: inside the stack area, usually aligned.
uint32_t pick_sp(gen &g)
{
	uint32_t off = CD_STACK_LO + 0x800 + g.r.below(CD_STACK_HI - CD_STACK_LO - 0x1000);
	off &= g.r.chance(85) ? ~3u : ~0u;
	return g.cs_bits == 16 ? (off | (g.r.chance(20) ? g.r.u32() & 0xffff0000u : 0))
			       : CPUD_DATA_BASE + off;
}

uint32_t sp_off(const gen &g)
{
	return g.cs_bits == 16 ? (g.regs[4] & 0xffff) : g.regs[4] - CPUD_DATA_BASE;
}

// Flags undefined after a shift or rotate of `bits` by `count` (the raw
// count: the CPU masks it to 5 bits).
uint32_t shift_undef(int op, int bits, uint32_t count)
{
	count &= 31;
	if (count == 0)
		return 0;
	uint32_t u = count == 1 ? 0 : CPUD_OF;
	switch (op) {
	case 0: case 1: case 2: case 3:
		return u;
	case 4: case 5: case 6:
		if ((int)count >= bits)
			u |= CPUD_CF;
		return u | CPUD_AF;
	default: // SAR
		return u | CPUD_AF;
	}
}

uint32_t shift_count(cd_rng &r, int bits)
{
	static const uint32_t counts[] = {0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 255};
	if (r.chance(75))
		return counts[r.below(sizeof(counts) / sizeof(counts[0]))];
	(void)bits;
	return r.below(256);
}

const uint16_t k_good_sels[] = {CPUD_SEL_DATA32, CPUD_SEL_DATA16, 0x0000,
				CPUD_SEL_CODE32, 0x0003};
const uint16_t k_bad_sels[] = {0x1230, 0x0017, 0x0014, 0x0007 /*code: bad for SS*/};

// In a stream, the values an instruction needs come from MOVs in front
// of it (ESP is never one of them).
void emit_fixed_movs(gen &g)
{
	for (int i = 0; i < 8; i++) {
		if (!g.fixed[i] || i == 4)
			continue;
		if (g.cs_bits == 16)
			g.pre.push_back(0x66);
		g.pre.push_back((uint8_t)(0xb8 + i));
		for (int k = 0; k < 4; k++)
			g.pre.push_back((uint8_t)(g.regs[i] >> (8 * k)));
	}
}

// The flags condition code cc reads (SDM vol. 1 appendix B).
uint32_t cc_flags(unsigned cc)
{
	static const uint32_t t[8] = {
		CPUD_OF, CPUD_CF, CPUD_ZF, CPUD_CF | CPUD_ZF, CPUD_SF, CPUD_PF,
		CPUD_SF | CPUD_OF, CPUD_ZF | CPUD_SF | CPUD_OF};
	return t[(cc >> 1) & 7];
}

// Builds one case of form f. Returns false when the form does not apply.
bool build(gen &g, const form &f, uint32_t *fl_undef, uint32_t *fl_in)
{
	cd_case &c = g.c;
	cd_rng &r = g.r;
	// Registers: interesting values of the operand size, random above.
	for (int i = 0; i < 8; i++) {
		uint32_t lo = g.osz == 8 ? interesting(r, 8) | interesting(r, 8) << 8
					 : interesting(r, g.osz);
		uint32_t lomask = size_mask(g.osz == 8 ? 16 : g.osz);
		uint32_t hi = r.chance(50) ? r.u32() : (r.chance(50) ? 0 : 0xffffffffu);
		g.regs[i] = (hi & ~lomask) | (lo & lomask);
	}
	// ESP is always a usable stack pointer (ALU forms on it still
	// compute on that value).
	g.set_reg(4, pick_sp(g));
	uint32_t undef = f.fundef;

	int prefix_66 = (f.size == 'v' && g.osz != g.cs_bits) ||
			(f.size == 'w' && g.cs_bits == 32) ||
			(f.size == 'd' && g.cs_bits == 16);
	bool lock = false;
	int seg_override = 0;
	std::vector<uint8_t> &b = g.ins;

	// Parse the encoding.
	const char *e = f.enc;
	std::vector<uint8_t> opc;
	int modrm_reg = -1; // /digit, or -2 for /r, -3 for /s
	bool plus_r = false, has_cc = false, moffs = false, prefixes16 = false;
	int imm1 = 0, imm2 = 0; // bytes
	while (*e) {
		while (*e == ' ')
			e++;
		if (!*e)
			break;
		if (e[0] == '/') {
			modrm_reg = e[1] == 'r' ? -2 : e[1] == 's' ? -3 : e[1] - '0';
			e += 2;
		} else if (e[0] == '+' && e[1] == 'r') {
			plus_r = true;
			e += 2;
		} else if (e[0] == 'i') {
			int n = e[1] == 'b' ? 1 : e[1] == 'w' ? 2 : e[1] == 'd' ? 4
				: (g.osz == 16 ? 2 : 4);
			(imm1 ? imm2 : imm1) = n;
			e += 2;
		} else if (e[0] == 'm' && e[1] == 'o') {
			moffs = true;
			e += 2;
		} else if (e[0] == 'p' && e[1] == 'f') {
			prefixes16 = true;
			e += 2;
		} else if (e[1] == 'c') {
			opc.push_back((uint8_t)(hexval(e) & 0xf0));
			has_cc = true;
			e += 2;
		} else {
			int v = hexval(e);
			e += 2;
			if (e[0] == '+' && e[1] == '1') {
				v += 1;
				e += 2;
			}
			opc.push_back((uint8_t)v);
		}
	}
	if (prefixes16) {
		// 15 bytes is the architectural limit (SDM vol. 2 2.3.11).
		for (int i = 0; i < 15; i++)
			b.push_back(r.chance(50) ? 0x3e : 0x26);
		b.push_back(0x90);
		c.name = f.name;
		*fl_undef = 0;
		return true;
	}
	*fl_in = f.fin;
	if (has_cc) {
		uint8_t cc = (uint8_t)r.below(16);
		opc.back() |= cc;
		*fl_in = cc_flags(cc);
	}
	bool mem_form = false;
	int reg_op = -1, rm_op = -1;
	if (modrm_reg != -1) {
		bool can_reg = !(f.attr & A_M), can_mem = !(f.attr & A_R);
		mem_form = can_mem && (!can_reg || r.chance(45));
	}
	if (mem_form && r.chance(15) && !g.stream && g.cs_bits == 16)
		g.asz = 32;
	if (mem_form && (f.attr & A_NOMEM_ACCESS) && r.chance(40))
		g.asz = g.cs_bits == 16 ? 32 : 16;
	if (moffs && g.cs_bits == 16 && r.chance(25))
		g.asz = 32;
	if (mem_form && (f.attr & A_LOCK) && r.chance(30) && !g.stream)
		lock = true;
	if (mem_form && r.chance(20) && !(f.attr & A_NOMEM_ACCESS)) {
		static const uint8_t segs[] = {0x26, 0x36, 0x3e};
		seg_override = segs[r.below(3)];
	}
	if (lock)
		b.push_back(0xf0);
	if (seg_override)
		b.push_back((uint8_t)seg_override);
	if (prefix_66)
		b.push_back(0x66);
	if (g.asz != g.cs_bits)
		b.push_back(0x67);
	int opsz_eff = f.size == 'b' ? 8 : f.size == 'w' ? 16 : f.size == 'd' ? 32 : g.osz;
	if (plus_r) {
		int reg = (int)r.below(8);
		if (g.stream)
			while (reg == 4 && opsz_eff != 8)
				reg = (int)r.below(8);
		opc.back() = (uint8_t)(opc.back() + reg);
		reg_op = reg;
	}
	b.insert(b.end(), opc.begin(), opc.end());

	// The operand value in memory or the r/m register.
	int mem_bytes = opsz_eff / 8;
	if (f.hook == H_CMPXCHG8B)
		mem_bytes = 8;
	if (!strcmp(f.name, "MOVZX r, r/m8") || !strcmp(f.name, "MOVSX r, r/m8"))
		mem_bytes = 1;
	if (!strcmp(f.name, "MOVZX r, r/m16") || !strcmp(f.name, "MOVSX r, r/m16"))
		mem_bytes = 2;
	if (f.hook == H_BOUND)
		mem_bytes = 2 * opsz_eff / 8;

	if (modrm_reg != -1) {
		int regf;
		if (modrm_reg >= 0)
			regf = modrm_reg;
		else if (modrm_reg == -3)
			regf = (int)r.below(6); // Sreg
		else {
			regf = (int)r.below(8);
			if (g.stream && opsz_eff != 8 && !(f.attr & A_RDREG_ONLY))
				while (regf == 4)
					regf = (int)r.below(8);
			reg_op = regf;
		}
		if (!mem_form) {
			int rm = (int)r.below(8);
			if (g.stream && opsz_eff != 8)
				while (rm == 4)
					rm = (int)r.below(8);
			b.push_back((uint8_t)(0xc0 | regf << 3 | rm));
			rm_op = rm;
		} else {
			uint32_t want = CD_OPND_LO + r.below(CD_OPND_HI - CD_OPND_LO - 64);
			if (f.hook == H_POPMEM && r.chance(30) && g.asz == 32) {
				// POP with an ESP-based operand: addressed
				// with the ESP value after the pop.
			}
			g.mem_off = emit_mem(g, regf, want, (f.attr & A_NOMEM_ACCESS) != 0);
			g.has_mem = true;
			if (!(f.attr & A_NOMEM_ACCESS)) {
				uint64_t v = interesting(r, 32) |
					     ((uint64_t)interesting(r, 32) << 32);
				g.poke(g.mem_off, v, (unsigned)mem_bytes);
			}
		}
	}
	if (moffs) {
		uint32_t off = CD_OPND_LO + r.below(CD_OPND_HI - CD_OPND_LO - 8);
		uint32_t a = g.lin(off);
		if (g.asz == 16 && g.cs_bits == 32)
			return false;
		emit_imm(g, a, g.asz / 8);
		g.poke(off, interesting(r, 32), 4);
		g.has_mem = true;
		g.mem_off = off;
	}
	uint32_t imm_a = imm1 ? interesting(r, imm1 * 8) : 0;
	uint32_t imm_b = imm2 ? interesting(r, imm2 * 8) : 0;

	int op_digit = modrm_reg >= 0 ? modrm_reg : 0;
	// Hooks.
	switch (f.hook) {
	case H_NONE:
		break;
	case H_LEA:
		break;
	case H_DIV:
	case H_IDIV: {
		// Usually a quotient that fits; sometimes not (#DE), and a
		// zero divisor now and then.
		int bits = opsz_eff;
		if (rm_op >= 0 || g.has_mem) {
			uint32_t divisor = rm_op >= 0 ? g.regs[rm_op] : 0;
			(void)divisor;
		}
		int hi_reg = bits == 8 ? -1 : 2;
		if (r.chance(75)) {
			if (bits == 8) {
				uint32_t ax = g.regs[0] & 0xffff;
				ax &= r.chance(50) ? 0x00ff : 0x0fff;
				if (f.hook == H_IDIV && r.chance(30))
					ax = (uint32_t)(int16_t)(int8_t)ax & 0xffff;
				if (!g.fixed[0] && rm_op != 0 && rm_op != 4)
					g.set_reg(0, (g.regs[0] & 0xffff0000u) | ax);
			} else if (hi_reg >= 0 && rm_op != 2 && reg_op != 2 && !g.fixed[2]) {
				uint32_t lo = g.regs[0] & size_mask(bits);
				uint32_t hi = 0;
				if (f.hook == H_IDIV)
					hi = (lo >> (bits - 1)) & 1 ? size_mask(bits) : 0;
				if (r.chance(30))
					hi = r.below(4);
				g.set_reg(2, (g.regs[2] & ~size_mask(bits)) | (hi & size_mask(bits)));
			}
		}
		break;
	}
	case H_SH1:
		undef = shift_undef(op_digit, opsz_eff, 1);
		break;
	case H_SHCL: {
		uint32_t cnt = shift_count(r, opsz_eff);
		// CL may be the operand or an address register too. (In a
		// stream the MOV in front sets it, so the count is known.)
		if (g.fixed[1] || (rm_op == 1 && !g.stream))
			cnt = g.regs[1] & 0xff;
		else
			g.set_reg(1, (g.regs[1] & ~0xffu) | (cnt & 0xff));
		undef = shift_undef(op_digit, opsz_eff, cnt);
		break;
	}
	case H_SHIB:
		imm_a = shift_count(r, opsz_eff) & 0xff;
		undef = shift_undef(op_digit, opsz_eff, imm_a);
		break;
	case H_SHXD_CL:
	case H_SHXD_IB: {
		uint32_t cnt = shift_count(r, opsz_eff) & 0xff;
		if (opsz_eff == 16)
			while ((cnt & 31) > 16)
				cnt = shift_count(r, 16) & 0xff;
		if (f.hook == H_SHXD_CL) {
			if (g.fixed[1] || ((rm_op == 1 || reg_op == 1) && !g.stream)) {
				cnt = g.regs[1] & 0xff;
				if (opsz_eff == 16 && (cnt & 31) > 16)
					return false;
			} else {
				g.set_reg(1, (g.regs[1] & ~0xffu) | cnt);
			}
		} else {
			imm_a = cnt;
		}
		cnt &= 31;
		undef = cnt == 0 ? 0 : (CPUD_AF | (cnt == 1 ? 0 : CPUD_OF));
		break;
	}
	case H_BT_REG:
		if (g.has_mem && reg_op >= 0 && !g.fixed[reg_op]) {
			// Any bit offset reaches memory around the operand:
			// keep it within +-2 KiB of it.
			int32_t bitoff = (int32_t)r.below(2 * 8 * 0x700) - 8 * 0x700;
			if (r.chance(30))
				bitoff = (int32_t)r.below((unsigned)opsz_eff * 2) - opsz_eff;
			if (g.mem_off < 0x800)
				bitoff = std::abs(bitoff);
			g.set_reg(reg_op, (uint32_t)bitoff);
			if (opsz_eff == 16)
				g.regs[reg_op] = (g.regs[reg_op] & 0xffff) |
						 (r.u32() & 0xffff0000u);
		} else if (g.has_mem) {
			return false;
		}
		break;
	case H_BT_IMM:
		imm_a = r.below(256);
		break;
	case H_BSF: {
		uint32_t src;
		if (rm_op >= 0)
			src = g.regs[rm_op];
		else
			src = 0; // decided below
		// A zero source now and then (not in streams, where the
		// undefined destination would spread).
		bool zero = !g.stream && r.chance(15);
		if (g.has_mem) {
			uint32_t v = zero ? 0 : interesting(r, opsz_eff);
			if (!zero && !(v & size_mask(opsz_eff)))
				v = 1u << r.below((unsigned)opsz_eff);
			g.poke(g.mem_off, v, (unsigned)mem_bytes);
			src = v;
		} else if (zero && rm_op != reg_op) {
			g.regs[rm_op] &= ~size_mask(opsz_eff);
			src = 0;
		} else if (g.stream) {
			if (g.fixed[rm_op] && !(g.regs[rm_op] & size_mask(opsz_eff)))
				return false;
			if (!(src & size_mask(opsz_eff)))
				src |= 1u << r.below((unsigned)opsz_eff);
			g.set_reg(rm_op, src);
		}
		if ((src & size_mask(opsz_eff)) == 0)
			c.undef_bits[reg_op] |= size_mask(opsz_eff);
		break;
	}
	case H_AAM:
		imm_a = r.chance(15) ? 0 : r.chance(50) ? 10 : r.below(256);
		break;
	case H_AAD:
		imm_a = r.chance(50) ? 10 : r.below(256);
		break;
	case H_BCD:
		break;
	case H_BOUND: {
		int w = opsz_eff / 8;
		int32_t lo = (int32_t)interesting(r, opsz_eff);
		int32_t hi = (int32_t)interesting(r, opsz_eff);
		if (w == 2) {
			lo = (int16_t)lo;
			hi = (int16_t)hi;
		}
		if (lo > hi && r.chance(70))
			std::swap(lo, hi);
		g.poke(g.mem_off, (uint32_t)lo, (unsigned)w);
		g.poke(g.mem_off + (uint32_t)w, (uint32_t)hi, (unsigned)w);
		if (reg_op >= 0 && !g.fixed[reg_op] && r.chance(60)) {
			// Near a bound, wrapping like the register would.
			uint32_t v = (uint32_t)(r.chance(50) ? lo : hi) + r.below(5) - 2;
			g.set_reg(reg_op, (g.regs[reg_op] & ~size_mask(opsz_eff)) |
					  (v & size_mask(opsz_eff)));
		}
		break;
	}
	case H_XLAT: {
		uint32_t off = CD_OPND_LO + r.below(CD_OPND_HI - CD_OPND_LO - 256);
		if (g.cs_bits == 16)
			g.regs[3] = (g.regs[3] & 0xffff0000u) | off;
		else
			g.regs[3] = g.lin(off);
		g.fixed[3] = true;
		std::vector<uint8_t> tbl(256);
		for (auto &x : tbl)
			x = (uint8_t)r.u32();
		c.mem.push_back({off, tbl});
		break;
	}
	case H_ENTER: {
		imm_a = r.chance(50) ? r.below(64) : r.below(0x400);
		imm_b = r.chance(60) ? r.below(6) : r.chance(50) ? 31 + r.below(3) : r.below(256);
		// EBP points into the stack area, above enough room for the
		// levels the frame copies.
		uint32_t sp = sp_off(g);
		uint32_t bp = sp + 8 + r.below(0x200);
		bp &= ~1u;
		g.regs[5] = g.cs_bits == 16 ? ((g.regs[5] & 0xffff0000u) | bp) : g.lin(bp);
		g.fixed[5] = true;
		std::vector<uint8_t> frame(0x100);
		for (auto &x : frame)
			x = (uint8_t)r.u32();
		c.mem.push_back({bp - 0x100, frame});
		break;
	}
	case H_POPF: {
		uint32_t v = r.u32() & ~(CPUD_TF | CPUD_RF | 0x00010000u);
		if (r.chance(50))
			v &= ~CPUD_AC;
		g.poke(sp_off(g), v, 4);
		break;
	}
	case H_PUSH_SREG:
		// Zero the slot the push writes: CPUs write either the
		// zero-extended selector or just its 16 bits (SDM vol. 2 PUSH).
		g.poke(sp_off(g) - 4, 0, 4);
		break;
	case H_STACKVAL: {
		std::vector<uint8_t> st(32);
		for (auto &x : st)
			x = (uint8_t)r.u32();
		c.mem.push_back({sp_off(g), st});
		if (!strcmp(f.name, "LEAVE")) {
			uint32_t bp = sp_off(g) + r.below(0x100);
			g.regs[5] = g.cs_bits == 16 ? ((g.regs[5] & 0xffff0000u) | bp)
						    : g.lin(bp);
			g.fixed[5] = true;
			std::vector<uint8_t> bpst(8);
			for (auto &x : bpst)
				x = (uint8_t)r.u32();
			c.mem.push_back({bp, bpst});
		}
		if (f.name[0] == 'P' && f.name[1] == 'O' && f.name[4] == 'r' && reg_op == 4)
			return false; // POP ESP: covered by POP r/m forms
		break;
	}
	case H_POPMEM:
		{
			std::vector<uint8_t> st(8);
			for (auto &x : st)
				x = (uint8_t)r.u32();
			c.mem.push_back({sp_off(g), st});
		}
		if (rm_op == 4)
			return false;
		break;
	case H_LOAD_SREG: {
		uint16_t sel = r.chance(70) ? k_good_sels[r.below(5)] : k_bad_sels[r.below(4)];
		if (g.has_mem)
			g.poke(g.mem_off, sel, 2);
		else if (rm_op >= 0)
			g.regs[rm_op] = (g.regs[rm_op] & 0xffff0000u) | sel;
		else
			g.poke(sp_off(g), sel | (r.u32() & 0xffff0000u), 4);
		break;
	}
	case H_SELTEST: {
		static const uint16_t sels[] = {CPUD_SEL_DATA32, CPUD_SEL_CODE32,
			CPUD_SEL_DATA16, CPUD_SEL_CODE16, 0, 0x0f & ~3, 0x17, 0x1234};
		uint16_t sel = sels[r.below(8)];
		// LAR: bits 19:16 (the limit's top) are undefined (SDM vol. 2
		// LAR: "00FxFF00H").
		if (!strncmp(f.name, "LAR", 3) && reg_op >= 0 && opsz_eff == 32)
			c.undef_bits[reg_op] |= 0x000f0000u;
		if (g.has_mem)
			g.poke(g.mem_off, sel, 2);
		else if (rm_op >= 0)
			g.regs[rm_op] = (g.regs[rm_op] & 0xffff0000u) | sel;
		break;
	}
	case H_CMPXCHG:
		if (r.chance(50) && !g.stream) {
			uint32_t m = size_mask(opsz_eff);
			uint32_t v;
			if (g.has_mem) {
				v = interesting(r, opsz_eff);
				g.poke(g.mem_off, v, (unsigned)mem_bytes);
			} else if (opsz_eff == 8 && rm_op >= 4) {
				v = g.regs[rm_op - 4] >> 8;
			} else {
				v = g.regs[rm_op];
			}
			if (!g.fixed[0])
				g.regs[0] = (g.regs[0] & ~m) | (v & m);
		}
		break;
	case H_CMPXCHG8B:
		if (r.chance(50)) {
			uint64_t v = ((uint64_t)g.regs[2] << 32) | g.regs[0];
			g.poke(g.mem_off, v, 8);
		}
		break;
	case H_ARPL:
		break;
	}
	if (g.stream)
		emit_fixed_movs(g);
	if (imm1)
		emit_imm(g, imm_a, imm1);
	if (imm2)
		emit_imm(g, imm_b, imm2);
	// A locked form with a register operand is #UD; a prefix on a
	// memory form is fine. (Registers only appear here unlocked.)
	c.name = f.name;
	if (f.size == 'v')
		c.name += g.osz == 16 ? " (o16)" : " (o32)";
	if (g.asz != g.cs_bits)
		c.name += " (a" + std::to_string(g.asz) + ")";
	if (lock)
		c.name = "LOCK " + c.name;
	*fl_undef = undef;
	return true;
}

void finish_regs(gen &g)
{
	for (int i = 0; i < 8; i++)
		g.c.in.gpr[i] = g.regs[i];
}

// ---- control transfers and string instructions: built as short
// sequences rather than table rows, since their operands are places in
// the code or runs of memory ----

void init_regs(gen &g)
{
	for (int i = 0; i < 8; i++)
		g.regs[i] = interesting(g.r, 32);
	g.set_reg(4, pick_sp(g));
}

// Appends `n` INC eAX (40h): a path marker, so which way a branch went
// shows in EAX.
void markers(std::vector<uint8_t> &b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b.push_back(0x40);
}

void put_rel(std::vector<uint8_t> &b, int32_t rel, int bytes)
{
	for (int i = 0; i < bytes; i++)
		b.push_back((uint8_t)((uint32_t)rel >> (8 * i)));
}

// The code offset of byte position p as EIP/IP sees it.
uint32_t code_addr(const gen &g, uint32_t p)
{
	return g.cs_bits == 16 ? p : CPUD_CODE_BASE + p;
}

enum ctl_kind {
	C_JCC8, C_JCC, C_JMP8, C_JMP, C_CALL, C_RET, C_RETN, C_JMP_RM,
	C_CALL_RM, C_LOOP, C_LOOP_BACK, C_LOOPE, C_LOOPNE, C_JCXZ,
	C_CALLF, C_RETF, C_IRET, C_COUNT
};

const char *const k_ctl_names[C_COUNT] = {
	"Jcc rel8", "Jcc rel", "JMP rel8", "JMP rel", "CALL rel", "RET",
	"RET imm16", "JMP r/m", "CALL r/m", "LOOP (forward)", "LOOP (backward)",
	"LOOPE", "LOOPNE", "JCXZ/JECXZ", "CALL far ptr", "RETF", "IRET",
};

bool build_ctl(gen &g, int kind)
{
	cd_case &c = g.c;
	cd_rng &r = g.r;
	std::vector<uint8_t> &b = g.ins;
	init_regs(g);
	bool o16 = g.osz == 16;
	int relb = o16 ? 2 : 4;
	if (g.osz != g.cs_bits)
		b.push_back(0x66);
	unsigned skip = r.below(5), after = r.below(3);
	int32_t rel = (int32_t)skip;
	// Usually the target is in the sequence (skipping `skip` markers);
	// sometimes a branch not taken falls through them.
	switch (kind) {
	case C_JCC8:
	case C_JCC: {
		unsigned cc = r.below(16);
		if (kind == C_JCC8)
			b.push_back((uint8_t)(0x70 | cc));
		else {
			b.push_back(0x0f);
			b.push_back((uint8_t)(0x80 | cc));
		}
		put_rel(b, rel, kind == C_JCC8 ? 1 : relb);
		markers(b, skip);
		break;
	}
	case C_JMP8:
	case C_JMP:
		b.push_back(kind == C_JMP8 ? 0xeb : 0xe9);
		put_rel(b, rel, kind == C_JMP8 ? 1 : relb);
		markers(b, skip);
		break;
	case C_CALL:
		b.push_back(0xe8);
		put_rel(b, rel, relb);
		markers(b, skip);
		break;
	case C_RET:
	case C_RETN: {
		b.push_back(kind == C_RET ? 0xc3 : 0xc2);
		uint16_t imm = (uint16_t)(r.chance(50) ? r.below(16) * 2 : r.below(0x200));
		if (kind == C_RETN)
			put_rel(b, imm, 2);
		uint32_t tgt = code_addr(g, (uint32_t)(b.size() + skip));
		markers(b, skip);
		g.poke(sp_off(g), tgt, o16 ? 2 : 4);
		break;
	}
	case C_JMP_RM:
	case C_CALL_RM: {
		// The target is computed once the instruction length is known.
		b.push_back(0xff);
		bool mem = r.chance(50);
		int reg = (int)r.below(8);
		while (reg == 4)
			reg = (int)r.below(8);
		size_t at = 0;
		if (mem) {
			uint32_t want = CD_OPND_LO + r.below(CD_OPND_HI - CD_OPND_LO - 64);
			g.mem_off = emit_mem(g, kind == C_JMP_RM ? 4 : 2, want, false);
			g.has_mem = true;
		} else {
			b.push_back((uint8_t)(0xc0 | (kind == C_JMP_RM ? 4 : 2) << 3 | reg));
		}
		at = b.size();
		uint32_t tgt = code_addr(g, (uint32_t)(at + skip));
		if (mem)
			g.poke(g.mem_off, tgt | (r.u32() & (o16 ? 0xffff0000u : 0)), 4);
		else if (g.fixed[reg])
			return false;
		else
			g.set_reg(reg, (o16 ? (r.u32() & 0xffff0000u) : 0) | tgt);
		markers(b, skip);
		break;
	}
	case C_LOOP:
	case C_LOOPE:
	case C_LOOPNE:
	case C_JCXZ: {
		if (g.asz != g.cs_bits)
			b.insert(b.begin(), 0x67);
		static const uint8_t op[] = {0xe2, 0xe1, 0xe0, 0xe3};
		b.push_back(op[kind == C_LOOP ? 0 : kind == C_LOOPE ? 1 : kind == C_LOOPNE ? 2 : 3]);
		put_rel(b, rel, 1);
		markers(b, skip);
		static const uint32_t counts[] = {0, 1, 2, 0x10000, 0x10001, 0xffffffff};
		g.regs[1] = r.chance(60) ? counts[r.below(6)] : r.u32();
		break;
	}
	case C_LOOP_BACK: {
		// L: INC eAX; LOOP L -- ECX small, so the loop ends. (No
		// operand-size prefix: the loop runs the same bytes again.)
		b.clear();
		markers(b, 1 + r.below(2));
		if (g.asz != g.cs_bits)
			b.push_back(0x67);
		b.push_back(0xe2);
		put_rel(b, -(int32_t)(b.size() + 1), 1);
		g.regs[1] = (r.u32() & (g.asz == 16 ? 0xffff0000u : 0)) | (1 + r.below(40));
		break;
	}
	case C_CALLF: {
		// CALL far to the current code segment (allowed at CPL 3:
		// same DPL).
		b.push_back(0x9a);
		uint32_t tgt = code_addr(g, (uint32_t)(b.size() + relb + 2 + skip));
		put_rel(b, (int32_t)tgt, relb);
		uint16_t sel = g.cs_bits == 16 ? CPUD_SEL_CODE16 : CPUD_SEL_CODE32;
		put_rel(b, sel, 2);
		markers(b, skip);
		c.needs_cpl3 = true;
		g.poke(sp_off(g) - 8, 0, 8); // 32-bit pushes of CS: see PUSH Sreg
		break;
	}
	case C_RETF:
	case C_IRET: {
		bool iret = kind == C_IRET;
		bool imm = !iret && r.chance(40);
		b.push_back(iret ? 0xcf : imm ? 0xca : 0xcb);
		if (imm)
			put_rel(b, (int32_t)r.below(0x40) * 2, 2);
		uint32_t tgt = code_addr(g, (uint32_t)(b.size() + skip));
		markers(b, skip);
		uint16_t sel = g.cs_bits == 16 ? CPUD_SEL_CODE16 : CPUD_SEL_CODE32;
		int w = o16 ? 2 : 4;
		uint32_t sp = sp_off(g);
		g.poke(sp, tgt, (unsigned)w);
		g.poke(sp + (uint32_t)w, sel | (r.u32() & 0xffff0000u), (unsigned)w);
		if (iret) {
			// EFLAGS image: no TF (a trap after the return would
			// land on the end marker) and no NT/VM.
			uint32_t fl = r.u32() & ~(CPUD_TF | CPUD_RF | CPUD_NT | 0x20000u);
			g.poke(sp + 2u * (uint32_t)w, fl, (unsigned)w);
		}
		c.needs_cpl3 = true;
		break;
	}
	}
	markers(b, after);
	c.name = k_ctl_names[kind];
	c.name += o16 ? " (o16)" : " (o32)";
	if (g.asz != g.cs_bits)
		c.name += " (a" + std::to_string(g.asz) + ")";
	return true;
}

enum str_kind { S_MOVS, S_CMPS, S_SCAS, S_LODS, S_STOS, S_COUNT };
const char *const k_str_names[S_COUNT] = {"MOVS", "CMPS", "SCAS", "LODS", "STOS"};

// String instructions with and without REP/REPE/REPNE, both directions,
// counts from 0, 16- and 32-bit addressing.
bool build_str(gen &g, int kind, int rep, int wbits)
{
	cd_case &c = g.c;
	cd_rng &r = g.r;
	std::vector<uint8_t> &b = g.ins;
	init_regs(g);
	bool df = r.chance(40);
	if (g.stream)
		g.pre.push_back(df ? 0xfd : 0xfc); // STD / CLD
	else
		c.in.eflags = df ? CPUD_DF : 0;
	unsigned w = (unsigned)wbits / 8;
	uint32_t count = r.chance(15) ? 0 : r.chance(50) ? 1 + r.below(4) : r.below(40);
	if (!rep)
		count = 1;
	// Source and destination runs in the operand area, far enough
	// from its edges for `count` elements either way.
	uint32_t span = (count + 2) * w;
	uint32_t src = 0x1000 + r.below(0x2000), dst = 0x4000 + r.below(0x2000);
	if (r.chance(20))
		dst = src + (r.below(9) - 4) * w; // overlapping runs
	(void)span;
	std::vector<uint8_t> a(0x200), d(0x200);
	for (auto &x : a)
		x = (uint8_t)r.u32();
	if (kind == S_CMPS) {
		d = a;
		unsigned n = r.below(3);
		for (unsigned i = 0; i < n; i++)
			d[r.below(0x200)] ^= (uint8_t)(1 + r.below(255));
	} else if (kind == S_SCAS) {
		for (auto &x : d)
			x = (uint8_t)(r.chance(50) ? 0x5a : r.u32());
	} else {
		for (auto &x : d)
			x = (uint8_t)r.u32();
	}
	c.mem.push_back({src - 0x100, a});
	c.mem.push_back({dst - 0x100, d});
	uint32_t amask = g.asz == 16 ? 0xffffu : 0xffffffffu;
	auto setp = [&](int reg, uint32_t off) {
		uint32_t v = g.cs_bits == 16 ? off : g.lin(off);
		g.set_reg(reg, (g.regs[reg] & ~amask) | (v & amask));
	};
	setp(6, src);
	setp(7, dst);
	g.set_reg(1, (g.regs[1] & ~amask) | (count & amask));
	if (kind == S_SCAS) {
		uint32_t v = r.chance(60) ? 0x5a5a5a5au : r.u32();
		g.set_reg(0, v);
	}
	if (g.asz != g.cs_bits)
		b.push_back(0x67);
	static const uint8_t segs[] = {0x26, 0x36, 0x3e};
	bool has_src = kind == S_MOVS || kind == S_CMPS || kind == S_LODS;
	if (has_src && r.chance(20))
		b.push_back(segs[r.below(3)]);
	if (wbits != 8 && wbits != g.cs_bits)
		b.push_back(0x66);
	if (rep)
		b.push_back(rep == 1 ? 0xf3 : 0xf2);
	static const uint8_t ops[] = {0xa4, 0xa6, 0xae, 0xac, 0xaa};
	b.push_back((uint8_t)(ops[kind] + (wbits == 8 ? 0 : 1)));
	if (g.stream) {
		emit_fixed_movs(g);
		return true;
	}
	c.undef_flags = 0;
	c.name = std::string(rep == 0 ? "" : rep == 1 ? "REP " : "REPNE ") +
		 k_str_names[kind] + (wbits == 8 ? "B" : wbits == 16 ? "W" : "D");
	if (g.asz != g.cs_bits)
		c.name += " (a" + std::to_string(g.asz) + ")";
	return true;
}

} // namespace

unsigned cd_form_count(void)
{
	return (unsigned)(sizeof(k_forms) / sizeof(k_forms[0]));
}

std::vector<cd_case> cd_systematic(uint64_t seed, unsigned per_form,
				   std::vector<std::string> *forms)
{
	std::vector<cd_case> out;
	std::set<std::string> names;
	cd_rng r(seed);
	for (const form &f : k_forms) {
		for (int cs : {16, 32}) {
			if ((f.attr & A_ONLY16) && cs != 16)
				continue;
			std::vector<int> osizes;
			if (f.size == 'v')
				osizes = {16, 32};
			else
				osizes = {cs};
			for (int osz : osizes) {
				for (unsigned k = 0; k < per_form; k++) {
					cd_case c;
					c.mode = cs == 16 ? CPUD_MODE16 : CPUD_MODE32;
					gen g(r, c, false);
					g.cs_bits = cs;
					g.asz = cs;
					g.osz = f.size == 'b' ? 8 : osz;
					uint32_t undef = 0, fin = 0;
					if (!build(g, f, &undef, &fin))
						continue;
					c.in.eflags = (r.u32() & (CPUD_ARITH)) |
						      (r.chance(10) ? CPUD_DF : 0);
					c.code = g.pre;
					c.code.insert(c.code.end(), g.ins.begin(), g.ins.end());
					c.undef_flags = undef;
					c.needs_cpl3 = (f.attr & A_CPL3) != 0;
					finish_regs(g);
					std::string fname = std::string(f.name) + " [" +
						std::to_string(cs) + "-bit code" +
						(f.size == 'v' ? ", o" + std::to_string(osz) : "") + "]";
					names.insert(fname);
					c.name = fname + (c.name.find("LOCK") == 0 ? " LOCK" : "") +
						 (g.has_mem ? " mem" : "");
					out.push_back(std::move(c));
				}
			}
		}
	}
	// Control transfers.
	for (int kind = 0; kind < C_COUNT; kind++)
		for (int cs : {16, 32})
			for (int osz : {16, 32}) {
				// o16 branches in 32-bit code truncate EIP to
				// 16 bits: out of the code region.
				if (cs == 32 && osz == 16)
					continue;
				for (unsigned k = 0; k < per_form; k++) {
					cd_case c;
					c.mode = cs == 16 ? CPUD_MODE16 : CPUD_MODE32;
					gen g(r, c, false);
					g.cs_bits = cs;
					g.osz = osz;
					g.asz = cs;
					bool loop = kind >= C_LOOP && kind <= C_JCXZ;
					if (loop && cs == 16 && r.chance(30))
						g.asz = 32;
					if (!build_ctl(g, kind))
						continue;
					c.in.eflags = r.u32() & CPUD_ARITH;
					c.code = g.ins;
					finish_regs(g);
					std::string fname = std::string(k_ctl_names[kind]) + " [" +
						std::to_string(cs) + "-bit code, o" + std::to_string(osz) + "]";
					names.insert(fname);
					c.name = fname;
					out.push_back(std::move(c));
				}
			}
	// String instructions.
	for (int kind = 0; kind < S_COUNT; kind++)
		for (int rep = 0; rep < 3; rep++)
			for (int cs : {16, 32})
				for (int wb : {8, 16, 32}) {
					for (unsigned k = 0; k < per_form; k++) {
						cd_case c;
						c.mode = cs == 16 ? CPUD_MODE16 : CPUD_MODE32;
						gen g(r, c, false);
						g.cs_bits = cs;
						g.osz = wb;
						g.asz = cs;
						// 16-bit addresses in 32-bit code point
						// below the test area.
						if (cs == 16 && r.chance(30))
							g.asz = 32;
						if (!build_str(g, kind, rep, wb))
							continue;
						c.in.eflags |= r.u32() & CPUD_ARITH;
						c.code = g.ins;
						finish_regs(g);
						std::string fname = c.name + " [" + std::to_string(cs) +
							"-bit code]";
						names.insert(fname);
						c.name = fname;
						out.push_back(std::move(c));
					}
				}
	if (forms)
		forms->assign(names.begin(), names.end());
	return out;
}

std::vector<cd_case> cd_random_streams(uint64_t seed, unsigned count,
				       unsigned max_insns)
{
	std::vector<cd_case> out;
	cd_rng r(seed);
	std::vector<const form *> pool;
	// CPUDIFF_EXCLUDE="PUSH r/m,SHLD": leave out forms whose name starts
	// with one of these, to look past a known difference.
	std::vector<std::string> excl;
	if (const char *e = getenv("CPUDIFF_EXCLUDE")) {
		std::string all = e;
		size_t p = 0;
		while (p <= all.size()) {
			size_t q = all.find(',', p);
			if (q == std::string::npos)
				q = all.size();
			if (q > p)
				excl.push_back(all.substr(p, q - p));
			p = q + 1;
		}
	}
	for (const form &f : k_forms) {
		bool out_ = false;
		for (auto &x : excl)
			if (!strncmp(f.name, x.c_str(), x.size()))
				out_ = true;
		if (!(f.attr & (A_NOSTREAM | A_CPL3)) && !out_)
			pool.push_back(&f);
	}
	if (max_insns < 1)
		max_insns = 1;
	for (unsigned n = 0; n < count; n++) {
		cd_case c;
		int cs = r.chance(50) ? 16 : 32;
		c.mode = cs == 16 ? CPUD_MODE16 : CPUD_MODE32;
		{
			gen g0(r, c, true);
			g0.cs_bits = cs;
			init_regs(g0);
			finish_regs(g0);
		}
		c.in.eflags = (r.u32() & CPUD_ARITH) | (r.chance(10) ? CPUD_DF : 0);
		unsigned len = 1 + r.below(max_insns);
		std::vector<std::vector<uint8_t>> insns(len);
		std::vector<uint32_t> undef_start(len, 0);
		std::vector<uint32_t> pend(len + 1, 0);
		struct jump { unsigned at, target; int relbytes; };
		std::vector<jump> jumps;
		uint32_t undef = 0;
		std::string names;
		for (unsigned i = 0; i < len; i++) {
			undef |= pend[i];
			undef_start[i] = undef;
			std::vector<uint8_t> &b = insns[i];
			if (i + 1 < len && r.chance(10)) {
				// A forward branch to a later instruction
				// (or the end); the flags there are the union
				// of both paths.
				unsigned target = i + 1 + r.below(std::min(4u, len - i));
				unsigned cc = r.below(16);
				int relbytes = cs == 16 ? 2 : 4;
				if (cc_flags(cc) & undef || r.chance(20)) {
					b.push_back(0xe9);
					names += " JMP";
				} else {
					b.push_back(0x0f);
					b.push_back((uint8_t)(0x80 | cc));
					names += " Jcc";
				}
				for (int k = 0; k < relbytes; k++)
					b.push_back(0);
				jumps.push_back({i, target, relbytes});
				pend[target] |= undef;
				continue;
			}
			if (r.chance(6)) {
				gen g(r, c, true);
				g.cs_bits = cs;
				g.asz = cs == 16 && r.chance(30) ? 32 : cs;
				int kind = (int)r.below(S_COUNT);
				int rep = (int)r.below(3);
				int wb = 8 << r.below(3);
				g.osz = wb;
				if (build_str(g, kind, rep, wb)) {
					b = g.pre;
					b.insert(b.end(), g.ins.begin(), g.ins.end());
					names += std::string(" ") + k_str_names[kind];
					continue;
				}
			}
			for (int tries = 0; tries < 40; tries++) {
				const form &f = *pool[r.below((uint32_t)pool.size())];
				gen g(r, c, true);
				g.cs_bits = cs;
				g.asz = cs;
				g.osz = f.size == 'b' ? 8 : (f.size == 'v' && r.chance(50)) ? 16 + 16 * (cs == 16) : cs;
				if (f.size == 'v' && g.osz == cs && r.chance(50))
					g.osz = cs == 16 ? 32 : 16;
				size_t mem_before = c.mem.size();
				uint32_t fu = 0, fin = 0;
				if (!build(g, f, &fu, &fin) || (fin & undef)) {
					c.mem.resize(mem_before);
					continue;
				}
				b = g.pre;
				b.insert(b.end(), g.ins.begin(), g.ins.end());
				undef = (undef & ~f.fdef) | fu;
				names += std::string(" ") + f.name;
				break;
			}
		}
		std::vector<uint32_t> off(len + 1, 0);
		for (unsigned i = 0; i < len; i++)
			off[i + 1] = off[i] + (uint32_t)insns[i].size();
		for (auto &j : jumps) {
			int32_t rel = (int32_t)(off[j.target] - off[j.at + 1]);
			std::vector<uint8_t> &b = insns[j.at];
			for (int k = 0; k < j.relbytes; k++)
				b[b.size() - (size_t)j.relbytes + (size_t)k] =
					(uint8_t)((uint32_t)rel >> (8 * k));
		}
		for (auto &b : insns)
			c.code.insert(c.code.end(), b.begin(), b.end());
		for (unsigned i = 0; i < len; i++)
			c.undef_at.push_back({off[i], undef_start[i]});
		c.undef_flags = undef | pend[len];
		c.name = "stream " + std::to_string(n) + " (" + std::to_string(cs) +
			 "-bit):" + names;
		out.push_back(std::move(c));
	}
	return out;
}
