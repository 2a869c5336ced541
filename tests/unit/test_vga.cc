// The VGA model through its ports and memory window, as a guest drives it:
// the graphics controller's data path, addressing modes, CRTC scan-out and
// the renderers.
#include "vga_fixture.h"

namespace {

// ---- the graphics controller's data path ----

TEST_F(VgaTest, WriteMode0SetResetAndBitMask)
{
	set_mode(kMode12);
	// planes hold 0x0f everywhere at offset 0
	gr(1, 0x00);
	gr(8, 0xff);
	wb(0xa0000, 0x0f);
	for (int p = 0; p < 4; p++)
		EXPECT_EQ(0x0f, plane(p, 0)) << p;
	rb(0xa0000); // latches <- 0x0f in every plane
	gr(0, 0x05); // set/reset: planes 0 and 2 set
	gr(1, 0x0f); // enabled for all planes
	gr(8, 0xf0); // only the high nibble from the new data
	wb(0xa0000, 0x00);
	EXPECT_EQ(0xff, plane(0, 0));
	EXPECT_EQ(0x0f, plane(1, 0));
	EXPECT_EQ(0xff, plane(2, 0));
	EXPECT_EQ(0x0f, plane(3, 0));
	// enable set/reset for plane 0 only: the others take the CPU byte
	gr(1, 0x01);
	gr(8, 0xff);
	wb(0xa0001, 0x3c);
	EXPECT_EQ(0xff, plane(0, 1));
	EXPECT_EQ(0x3c, plane(1, 1));
	EXPECT_EQ(0x3c, plane(2, 1));
	EXPECT_EQ(0x3c, plane(3, 1));
}

TEST_F(VgaTest, WriteMode0RotateAndLogicalFunctions)
{
	set_mode(kMode12);
	gr(8, 0xff);
	wb(0xa0010, 0xf0);
	rb(0xa0010); // latches = 0xf0
	gr(3, 0x04); // rotate right by 4, no function
	wb(0xa0011, 0x12);
	EXPECT_EQ(0x21, plane(0, 0x11));
	const struct { uint8_t fn; uint8_t want; } cases[] = {
		{0x08, 0xf0 & 0x3c}, // AND
		{0x10, 0xf0 | 0x3c}, // OR
		{0x18, 0xf0 ^ 0x3c}, // XOR
	};
	for (auto &c : cases) {
		gr(3, c.fn);
		wb(0xa0012, 0x3c);
		for (int p = 0; p < 4; p++)
			EXPECT_EQ(c.want, plane(p, 0x12)) << (int)c.fn;
	}
}

TEST_F(VgaTest, WriteMode1CopiesLatches)
{
	set_mode(kMode12);
	// distinct byte per plane at offset 0x100, written one plane at a time
	for (int p = 0; p < 4; p++) {
		sr(2, (uint8_t)(1 << p));
		wb(0xa0100, (uint8_t)(0x11 * (p + 1)));
	}
	sr(2, 0x0f);
	gr(5, 0x01);
	gr(8, 0x00); // the bit mask does not apply in write mode 1
	rb(0xa0100);
	wb(0xa0200, 0x00);
	for (int p = 0; p < 4; p++)
		EXPECT_EQ(0x11 * (p + 1), plane(p, 0x200)) << p;
}

TEST_F(VgaTest, WriteMode2ColourAndWriteMode3)
{
	set_mode(kMode12);
	rb(0xa0000); // latches 0
	gr(5, 0x02);
	gr(8, 0x81);
	wb(0xa0000, 0x0a); // colour 1010b on bits 7 and 0
	EXPECT_EQ(0x00, plane(0, 0));
	EXPECT_EQ(0x81, plane(1, 0));
	EXPECT_EQ(0x00, plane(2, 0));
	EXPECT_EQ(0x81, plane(3, 0));

	rb(0xa0000); // latches: 00 81 00 81
	gr(5, 0x03);
	gr(0, 0x06); // colour 0110b
	gr(8, 0xf0);
	gr(3, 0x00);
	wb(0xa0000, 0x3c); // mask = 0xf0 & 0x3c = 0x30
	EXPECT_EQ(0x00, plane(0, 0));
	EXPECT_EQ(0x30 | 0x81, plane(1, 0));
	EXPECT_EQ(0x30, plane(2, 0));
	EXPECT_EQ(0x81 & ~0x30, plane(3, 0));
}

TEST_F(VgaTest, ReadModes)
{
	set_mode(kMode12);
	const uint8_t vals[4] = {0xf0, 0xcc, 0xaa, 0x0f};
	for (int p = 0; p < 4; p++) {
		sr(2, (uint8_t)(1 << p));
		wb(0xa0040, vals[p]);
	}
	sr(2, 0x0f);
	for (int p = 0; p < 4; p++) {
		gr(4, (uint8_t)p);
		EXPECT_EQ(vals[p], rb(0xa0040)) << p;
	}
	// read mode 1: bits whose colour (p3 p2 p1 p0) equals 0101b
	gr(5, 0x08);
	gr(2, 0x05);
	gr(7, 0x0f);
	uint8_t want = 0;
	for (int b = 0; b < 8; b++) {
		int c = 0;
		for (int p = 0; p < 4; p++)
			c |= ((vals[p] >> b) & 1) << p;
		if (c == 5)
			want |= (uint8_t)(1 << b);
	}
	EXPECT_EQ(want, rb(0xa0040));
	// colour don't care on every plane: all bits match
	gr(7, 0x00);
	EXPECT_EQ(0xff, rb(0xa0040));
}

// ---- addressing ----

TEST_F(VgaTest, Chain4UsesEveryFourthByteOfEachPlane)
{
	set_mode(kMode13);
	for (int i = 0; i < 8; i++)
		wb(0xa0000 + i, (uint8_t)(0x40 + i));
	for (int i = 0; i < 8; i++) {
		EXPECT_EQ(0x40 + i, plane(i & 3, i & ~3)) << i;
		EXPECT_EQ(0x40 + i, rb(0xa0000 + i)) << i;
	}
	EXPECT_EQ(0, plane(0, 1)); // untouched
	// unchained (mode X) the same plane addresses read back per plane
	sr(4, 0x06);
	gr(5, 0x00);
	gr(4, 1);
	EXPECT_EQ(0x45, rb(0xa0004));
}

TEST_F(VgaTest, OddEvenTextAddressing)
{
	set_mode(kMode03);
	wb(0xb8000, 'A');
	wb(0xb8001, 0x1f);
	wb(0xb8002, 'B');
	EXPECT_EQ('A', plane(0, 0));
	EXPECT_EQ(0x1f, plane(1, 0));
	EXPECT_EQ('B', plane(0, 2));
	EXPECT_EQ(0, plane(2, 0)); // the font plane is not written by text writes
	EXPECT_EQ(0x1f, rb(0xb8001));
	EXPECT_EQ('B', rb(0xb8002));
	// mode 3's window is B8000-BFFFF: A0000 and B0000 are not decoded
	wb(0xa0000, 0x55);
	wb(0xb0000, 0x55);
	EXPECT_EQ(0xff, rb(0xa0000));
	EXPECT_EQ(0xff, rb(0xb0000));
	EXPECT_EQ('A', plane(0, 0));
}

TEST_F(VgaTest, MapMaskSelectsPlanes)
{
	set_mode(kMode12);
	sr(2, 0x0a);
	wb(0xa0020, 0x77);
	EXPECT_EQ(0x00, plane(0, 0x20));
	EXPECT_EQ(0x77, plane(1, 0x20));
	EXPECT_EQ(0x00, plane(2, 0x20));
	EXPECT_EQ(0x77, plane(3, 0x20));
}

TEST_F(VgaTest, WideAccessesSplitIntoBytes)
{
	set_mode(kMode03);
	mem_write(vm->mem, 0xb8000, 0x4f414f42u, 4); // "B", 4f, "A", 4f
	EXPECT_EQ('B', plane(0, 0));
	EXPECT_EQ(0x4f, plane(1, 0));
	EXPECT_EQ('A', plane(0, 2));
	EXPECT_EQ(0x4f414f42u, mem_read(vm->mem, 0xb8000, 4));
}

// ---- registers ----

TEST_F(VgaTest, AttributeFlipFlopAndIndexReads)
{
	in(0x3da);
	out(0x3c0, 0x12);
	out(0x3c0, 0x0c);
	EXPECT_EQ(0x0c, in(0x3c1));
	EXPECT_EQ(0x12, in(0x3c0));
	// after a reset of the flip-flop the next write is an index again
	in(0x3da);
	out(0x3c0, 0x31); // palette source on, index 0x11
	out(0x3c0, 0x07);
	EXPECT_EQ(0x07, in(0x3c1));
	EXPECT_EQ(0x31, in(0x3c0));
}

TEST_F(VgaTest, CrtcWriteProtectAndMonoDecoding)
{
	set_mode(kMode03);
	cr(0x11, 0x8e); // protect CR0-7
	cr(0x01, 0x10);
	out(0x3d4, 0x01);
	EXPECT_EQ(0x4f, in(0x3d5));
	cr(0x07, 0x00); // only the line compare bit 8 (bit 4) may change
	out(0x3d4, 0x07);
	EXPECT_EQ(0x1f & ~0x10, in(0x3d5));
	// monochrome I/O: the CRTC moves to 0x3B4/5 and 0x3D4 stops answering
	out(0x3c2, 0x66);
	EXPECT_EQ(0xffu, in(0x3d5));
	out(0x3b4, 0x0e);
	out(0x3b5, 0x12);
	out(0x3b4, 0x0e);
	EXPECT_EQ(0x12, in(0x3b5));
}

TEST_F(VgaTest, DacAutoIncrement)
{
	dac(5, 1, 2, 3);
	out(0x3c9, 4); // entry 6 continues
	out(0x3c9, 5);
	out(0x3c9, 6);
	out(0x3c7, 5);
	EXPECT_EQ(3u, in(0x3c7)); // DAC state: reading
	uint8_t got[6];
	for (auto &g : got)
		g = (uint8_t)in(0x3c9);
	const uint8_t want[6] = {1, 2, 3, 4, 5, 6};
	EXPECT_EQ(0, memcmp(got, want, 6));
	out(0x3c8, 0);
	EXPECT_EQ(0u, in(0x3c7));
	EXPECT_EQ(0u, in(0x3c8));
	dac(9, 0xff, 0x40, 0x3f); // 6-bit DAC: high bits dropped
	out(0x3c7, 9);
	EXPECT_EQ(0x3fu, in(0x3c9));
	EXPECT_EQ(0x00u, in(0x3c9));
}

TEST_F(VgaTest, RetraceFollowsVirtualTime)
{
	set_mode(kMode03);
	// mode 3: 900 dots x 449 lines at 28.322 MHz, retrace from line 412
	bool seen_retrace = false, seen_display = false;
	uint64_t t = 0;
	int changes = 0;
	bool last = false;
	for (int i = 0; i < 4000; i++) {
		clock_skip_to(vm->clock, t);
		bool r = in(0x3da) & 8;
		if (r) seen_retrace = true; else seen_display = true;
		if (i && r != last)
			changes++;
		last = r;
		t += 10000; // 10 us steps over 40 ms: almost three frames
	}
	EXPECT_TRUE(seen_retrace);
	EXPECT_TRUE(seen_display);
	EXPECT_GE(changes, 4);
	EXPECT_LE(changes, 8);
}

// ---- scan-out ----

TEST_F(VgaTest, TextModeGeometryAndFont)
{
	set_mode(kMode03);
	grey_dac();
	const uint8_t glyph[16] = {0x00, 0x18, 0x3c, 0x66, 0x66, 0x7e, 0x66, 0x66,
				   0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff};
	load_glyph('A', glyph, 16);
	const uint8_t line[16] = {0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0, 0};
	load_glyph(0xc4, line, 16); // a box-drawing line: 9th dot repeats
	wb(0xb8000, 'A');
	wb(0xb8001, 0x1e); // yellow (AR 0x3e) on blue (AR 0x01)
	wb(0xb8002, 0xc4);
	wb(0xb8003, 0x07);
	cr(0x0a, 0x20); // cursor off for this picture

	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_EQ(VGA_KIND_TEXT, m.kind);
	EXPECT_EQ(80u, m.cols);
	EXPECT_EQ(25u, m.rows);
	EXPECT_EQ(9u, m.char_w);
	EXPECT_EQ(16u, m.char_h);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(720u, w);
	ASSERT_EQ(400u, h);
	uint32_t fg = grey(0x3e), bg = grey(0x01);
	for (int r = 0; r < 16; r++)
		for (int d = 0; d < 9; d++) {
			bool on = d < 8 && (glyph[r] & (0x80 >> d));
			EXPECT_EQ(on ? fg : bg, px[r * w + d]) << r << "," << d;
		}
	EXPECT_EQ(grey(0x07), px[7 * w + 9 + 8]); // line graphics: dot 9 = dot 8
	EXPECT_EQ(grey(0x00), px[6 * w + 9 + 8]);
	ar(0x10, 0x08); // line graphics off: dot 9 is background
	px = render();
	EXPECT_EQ(grey(0x00), px[7 * w + 9 + 8]);
	// 8-dot characters
	sr(1, 0x01);
	vga_get_mode(v, &m);
	EXPECT_EQ(640u, m.width);
	EXPECT_EQ(8u, m.char_w);
}

TEST_F(VgaTest, TextGridCursorAndBlink)
{
	set_mode(kMode03);
	const char *msg = "Hello";
	for (int i = 0; msg[i]; i++) {
		wb(0xb8000 + 160 * 2 + 2 * (10 + i), (uint8_t)msg[i]);
		wb(0xb8000 + 160 * 2 + 2 * (10 + i) + 1, 0x9f);
	}
	cr(0x0e, 0x00);
	cr(0x0f, 80 * 2 + 12);
	cr(0x0a, 0x0d);
	cr(0x0b, 0x0e);
	struct vga_text t = {};
	ASSERT_EQ(0, vga_get_text(v, &t));
	EXPECT_EQ(80u, t.cols);
	EXPECT_EQ(25u, t.rows);
	EXPECT_EQ('H', t.cell[2 * 80 + 10].ch);
	EXPECT_EQ(0x9f, t.cell[2 * 80 + 10].attr);
	EXPECT_EQ('o', t.cell[2 * 80 + 14].ch);
	EXPECT_TRUE(t.cursor_visible);
	EXPECT_EQ(12u, t.cursor_col);
	EXPECT_EQ(2u, t.cursor_row);
	EXPECT_EQ(13u, t.cursor_start);
	EXPECT_EQ(14u, t.cursor_end);
	EXPECT_TRUE(t.blink);
	cr(0x0a, 0x2d); // cursor disabled
	ASSERT_EQ(0, vga_get_text(v, &t));
	EXPECT_FALSE(t.cursor_visible);
	vga_text_free(&t);

	// the cursor in the picture: scan lines 13-14 of its cell in foreground
	cr(0x0a, 0x0d);
	grey_dac();
	wb(0xb8000 + 160 * 2 + 2 * 12 + 1, 0x1e);
	unsigned w;
	auto px = render(&w);
	uint32_t fg = grey(0x3e), bg = grey(0x01);
	unsigned x0 = 12 * 9, y0 = 2 * 16;
	EXPECT_EQ(bg, px[(y0 + 12) * w + x0]);
	for (unsigned d = 0; d < 9; d++) {
		EXPECT_EQ(fg, px[(y0 + 13) * w + x0 + d]);
		EXPECT_EQ(fg, px[(y0 + 14) * w + x0 + d]);
	}
	EXPECT_EQ(bg, px[(y0 + 15) * w + x0]);
}

TEST_F(VgaTest, TextSecondFontByAttributeBit3)
{
	set_mode(kMode03);
	grey_dac();
	const uint8_t a[1] = {0xaa}, b[1] = {0x55};
	load_glyph('x', a, 1, 0);      // map 0 at plane offset 0
	load_glyph('x', b, 1, 0x4000); // map 1 at 16 KiB
	sr(3, 0x04); // map A (attr bit 3 set) = 1, map B = 0
	wb(0xb8000, 'x');
	wb(0xb8001, 0x0f); // bit 3 set: map A
	wb(0xb8002, 'x');
	wb(0xb8003, 0x07); // map B
	cr(0x0a, 0x20);
	unsigned w;
	auto px = render(&w);
	EXPECT_EQ(grey(0x00), px[0]);     // 0x55: dot 0 off
	EXPECT_NE(grey(0x00), px[1]);
	EXPECT_NE(grey(0x00), px[9]);     // 0xaa: dot 0 on
	EXPECT_EQ(grey(0x00), px[10]);
}

TEST_F(VgaTest, TextStartAddressScrolls)
{
	set_mode(kMode03);
	wb(0xb8000 + 160, 'Z'); // row 1
	cr(0x0c, 0);
	cr(0x0d, 80); // start at row 1
	struct vga_text t = {};
	ASSERT_EQ(0, vga_get_text(v, &t));
	EXPECT_EQ('Z', t.cell[0].ch);
	vga_text_free(&t);
}

TEST_F(VgaTest, Mode13Picture)
{
	set_mode(kMode13);
	dac(1, 63, 0, 0);
	dac(2, 0, 63, 0);
	dac(3, 0, 0, 63);
	wb(0xa0000 + 0, 1);
	wb(0xa0000 + 319, 2);
	wb(0xa0000 + 199 * 320 + 5, 3);
	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_EQ(VGA_KIND_GRAPHICS, m.kind);
	EXPECT_EQ(8u, m.bpp);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(320u, w);
	ASSERT_EQ(200u, h);
	EXPECT_EQ(0xff0000u, px[0]);
	EXPECT_EQ(0x00ff00u, px[319]);
	EXPECT_EQ(0x0000ffu, px[199 * 320 + 5]);
	EXPECT_EQ(0x000000u, px[1]);
	// the PEL mask hides DAC index bits
	out(0x3c6, 0xfe);
	px = render();
	EXPECT_EQ(0x000000u, px[0]); // 1 & 0xfe = 0
}

TEST_F(VgaTest, Mode13StartAddressAndLineCompare)
{
	set_mode(kMode13);
	grey_dac();
	for (int y = 0; y < 200; y++)
		for (int x = 0; x < 320; x += 4)
			wb(0xa0000 + y * 320 + x, (uint8_t)(y & 63));
	// start 10 rows down: the address counter runs in doublewords
	unsigned start = 10 * 320 / 4;
	cr(0x0c, (uint8_t)(start >> 8));
	cr(0x0d, (uint8_t)start);
	auto px = render();
	EXPECT_EQ(grey(10), px[0]);
	EXPECT_EQ(grey(11), px[320]);
	// line compare at scan line 100 (output line 50): back to address 0
	cr(0x18, 100);
	cr(0x07, 0x0f); // line compare bit 8 (CR07 bit 4) off
	cr(0x09, 0x01); // and bit 9 (CR09 bit 6)
	px = render();
	EXPECT_EQ(grey(59), px[49 * 320]);
	EXPECT_EQ(grey(0), px[50 * 320]);
	EXPECT_EQ(grey(1), px[51 * 320]);
}

TEST_F(VgaTest, ModeX320x240Unchained)
{
	VgaModeRegs x = kMode13;
	x.misc = 0xe3;
	x.sr[4] = 0x06;
	x.cr[0x06] = 0x0d; x.cr[0x07] = 0x3e; x.cr[0x10] = 0xea; x.cr[0x11] = 0xac;
	x.cr[0x12] = 0xdf; x.cr[0x14] = 0x00; x.cr[0x15] = 0xe7; x.cr[0x16] = 0x06;
	x.cr[0x17] = 0xe3;
	set_mode(x);
	grey_dac();
	// pixel (x, y) is plane x & 3 at address y * 80 + x / 4
	auto put = [&](int px, int py, uint8_t c) {
		sr(2, (uint8_t)(1 << (px & 3)));
		wb(0xa0000 + py * 80 + px / 4, c);
	};
	put(0, 0, 1);
	put(1, 0, 2);
	put(7, 0, 3);
	put(319, 239, 4);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(320u, w);
	ASSERT_EQ(240u, h);
	EXPECT_EQ(grey(1), px[0]);
	EXPECT_EQ(grey(2), px[1]);
	EXPECT_EQ(grey(3), px[7]);
	EXPECT_EQ(grey(0), px[4]);
	EXPECT_EQ(grey(4), px[239 * 320 + 319]);
	// page flip: a second page starting at address 80*240
	unsigned page = 80 * 240;
	sr(2, 0x0f);
	wb(0xa0000 + page, 5);
	cr(0x0c, (uint8_t)(page >> 8));
	cr(0x0d, (uint8_t)page);
	px = render();
	EXPECT_EQ(grey(5), px[0]);
	EXPECT_EQ(grey(5), px[3]);
}

TEST_F(VgaTest, Mode12Planar)
{
	set_mode(kMode12);
	grey_dac();
	// pixel 0 colour 0101b, pixel 7 colour 1010b, pixel 639 of line 479 = 15
	gr(5, 0x02);
	gr(8, 0x80);
	rb(0xa0000);
	wb(0xa0000, 0x05);
	gr(8, 0x01);
	rb(0xa0000);
	wb(0xa0000, 0x0a);
	gr(8, 0x01);
	rb(0xa0000 + 479 * 80 + 79);
	wb(0xa0000 + 479 * 80 + 79, 0x0f);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(640u, w);
	ASSERT_EQ(480u, h);
	// through the attribute palette of mode 12h (index 5 -> 0x05, 10 -> 0x3a)
	EXPECT_EQ(grey(0x05), px[0]);
	EXPECT_EQ(grey(0x3a), px[7]);
	EXPECT_EQ(grey(0x00), px[1]);
	EXPECT_EQ(grey(0x3f), px[479 * 640 + 639]);
	// colour plane enable masks planes out
	ar(0x12, 0x01);
	px = render();
	EXPECT_EQ(grey(0x01), px[0]);
	// pixel panning shifts the picture left
	ar(0x12, 0x0f);
	ar(0x13, 0x07);
	px = render();
	EXPECT_EQ(grey(0x3a), px[0]);
}

TEST_F(VgaTest, Mode0DDoubleScan)
{
	set_mode(kMode0D);
	grey_dac();
	gr(5, 0x02);
	gr(8, 0x80);
	rb(0xa0000 + 40);
	wb(0xa0000 + 40, 0x09); // line 1, pixel 0
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(320u, w);
	ASSERT_EQ(200u, h);
	EXPECT_EQ(grey(0x11), px[320]); // AR 9 = 0x11
	EXPECT_EQ(grey(0x00), px[0]);
}

TEST_F(VgaTest, Mode04CgaInterleave)
{
	set_mode(kMode04);
	grey_dac();
	// even line 0 at B8000, odd line 1 at BA000 (bank by row scan bit 0)
	wb(0xb8000, 0x1b); // pixels 0..3 = 0,1,2,3
	wb(0xba000, 0xc0); // line 1 pixel 0 = 3
	wb(0xb8000 + 80, 0x40); // line 2 pixel 0 = 1
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(320u, w);
	ASSERT_EQ(200u, h);
	// mode 4 palette: AR1 = 0x13, AR2 = 0x15, AR3 = 0x17
	EXPECT_EQ(grey(0x00), px[0]);
	EXPECT_EQ(grey(0x13), px[1]);
	EXPECT_EQ(grey(0x15), px[2]);
	EXPECT_EQ(grey(0x17), px[3]);
	EXPECT_EQ(grey(0x17), px[320]);
	EXPECT_EQ(grey(0x13), px[640]);
}

TEST_F(VgaTest, Mode06Monochrome)
{
	set_mode(kMode06);
	grey_dac();
	wb(0xb8000, 0x80);
	wb(0xba000, 0x01);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(640u, w);
	ASSERT_EQ(200u, h);
	EXPECT_EQ(grey(0x17), px[0]);
	EXPECT_EQ(grey(0x00), px[1]);
	EXPECT_EQ(grey(0x17), px[640 + 7]);
}

TEST_F(VgaTest, BlankedScreenIsBlack)
{
	set_mode(kMode13);
	dac(1, 63, 63, 63);
	wb(0xa0000, 1);
	in(0x3da);
	out(0x3c0, 0x00); // palette address source off: the screen blanks
	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_TRUE(m.blanked);
	auto px = render();
	EXPECT_EQ(0u, px[0]);
}

// ---- Bochs VBE ----

TEST_F(VgaTest, VbeIdentificationAndCaps)
{
	vbe(0, 0xb0c0);
	EXPECT_EQ(0xb0c0, vbe_rd(0));
	vbe(0, 0x1234); // not an ID: ignored
	EXPECT_EQ(0xb0c0, vbe_rd(0));
	vbe(0, 0xb0c5);
	EXPECT_EQ(0xb0c5, vbe_rd(0));
	EXPECT_EQ(256, vbe_rd(0xa)); // 16 MiB in 64 KiB units
	vbe(4, 0x02); // GETCAPS
	EXPECT_EQ(VGA_VBE_MAX_XRES, vbe_rd(1));
	EXPECT_EQ(VGA_VBE_MAX_YRES, vbe_rd(2));
	EXPECT_EQ(32, vbe_rd(3));
	vbe(4, 0x00);
	EXPECT_EQ(0, vbe_rd(1));
}

TEST_F(VgaTest, VbeLinearFramebuffer32)
{
	struct pci_device *d = vga_pci_device(v);
	EXPECT_EQ(0x1234, pci_get_word(d, 0));
	EXPECT_EQ(0x1111, pci_get_word(d, 2));
	EXPECT_EQ(0x0300, pci_get_word(d, 0x0a));
	d->bar_map(d, 0, PCI_BAR_UNMAPPED, 0xe0000000ull);
	vbe(4, 0);
	vbe(3, 32);
	vbe(1, 800);
	vbe(2, 600);
	vbe(4, 0x41); // enabled, linear framebuffer
	EXPECT_EQ(0x41, vbe_rd(4));
	EXPECT_EQ(800, vbe_rd(6));
	EXPECT_EQ((16u << 20) / 3200, vbe_rd(7));
	mem_write(vm->mem, 0xe0000000ull, 0x00112233, 4);
	mem_write(vm->mem, 0xe0000000ull + 599 * 3200 + 799 * 4, 0x00abcdef, 4);
	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_TRUE(m.vbe);
	EXPECT_EQ(VGA_KIND_GRAPHICS, m.kind);
	unsigned w, h;
	auto px = render(&w, &h);
	ASSERT_EQ(800u, w);
	ASSERT_EQ(600u, h);
	EXPECT_EQ(0x112233u, px[0]);
	EXPECT_EQ(0xabcdefu, px[599 * 800 + 799]);
	// the LFB is plain memory: the host pointer is the framebuffer
	EXPECT_NE(nullptr, mem_ram_ptr(vm->mem, 0xe0000000ull, 4096));
	// panning with Y_OFFSET (page flipping)
	mem_write(vm->mem, 0xe0000000ull + 600 * 3200, 0x00445566, 4);
	vbe(9, 600);
	EXPECT_EQ(600, vbe_rd(9));
	px = render();
	EXPECT_EQ(0x445566u, px[0]);
	vbe(9, 60000); // would leave video memory: refused
	EXPECT_EQ(600, vbe_rd(9));
	// geometry cannot change while enabled
	vbe(1, 1024);
	EXPECT_EQ(800, vbe_rd(1));
	// moving the BAR moves the framebuffer
	d->bar_map(d, 0, 0xe0000000ull, 0xd0000000ull);
	EXPECT_EQ(nullptr, mem_find(vm->mem, 0xe0000000ull));
	EXPECT_EQ(0x00112233u, mem_read(vm->mem, 0xd0000000ull, 4));
}

TEST_F(VgaTest, VbeBankedWindowAndDepths)
{
	vbe(3, 16);
	vbe(1, 640);
	vbe(2, 480);
	vbe(4, 0x01);
	// pixel 0 of line 52 (byte 66560) is in bank 1 at 0xA0000 + 1024
	vbe(5, 1);
	EXPECT_EQ(1, vbe_rd(5));
	mem_write(vm->mem, 0xa0000 + 1024, 0xf800, 2); // red in 5:6:5
	vbe(5, 256); // beyond 16 MiB: refused
	EXPECT_EQ(1, vbe_rd(5));
	auto px = render();
	EXPECT_EQ(0xff0000u, px[52 * 640]);
	// 15 bits: 0x7c00 is red
	vbe(4, 0);
	vbe(3, 15);
	vbe(4, 0x81); // keep memory
	px = render();
	EXPECT_EQ(0xf70000u, px[52 * 640]); // 0xf800 as x:5:5:5 is red 30
	// 24 bits: B, G, R in memory
	vbe(4, 0);
	vbe(3, 24);
	vbe(4, 0x01);
	vbe(5, 0);
	wb(0xa0000 + 3, 0x10);
	wb(0xa0000 + 4, 0x20);
	wb(0xa0000 + 5, 0x30);
	px = render();
	EXPECT_EQ(0x302010u, px[1]);
	// 8 bits through the DAC, 6-bit then 8-bit
	vbe(4, 0);
	vbe(3, 8);
	vbe(4, 0x01);
	dac(7, 63, 0, 32);
	wb(0xa0000 + 2, 7);
	px = render();
	EXPECT_EQ(rgb6(63, 0, 32), px[2]);
	vbe(4, 0x21); // 8-bit DAC
	dac(7, 0xff, 0x80, 0x01);
	px = render();
	EXPECT_EQ(0xff8001u, px[2]);
}

TEST_F(VgaTest, VbeRefusesImpossibleModes)
{
	vbe(3, 32);
	vbe(1, 4096);
	vbe(2, 768);
	vbe(4, 0x01);
	EXPECT_EQ(0, vbe_rd(4) & 1);
	vbe(1, 1024);
	vbe(3, 12);
	vbe(4, 0x01);
	EXPECT_EQ(0, vbe_rd(4) & 1);
	vbe(3, 32);
	vbe(1, 1920);
	vbe(2, 1080);
	vbe(4, 0x01);
	EXPECT_EQ(1, vbe_rd(4) & 1);
	unsigned w, h;
	render(&w, &h);
	EXPECT_EQ(1920u, w);
	EXPECT_EQ(1080u, h);
}

TEST_F(VgaTest, VbeDisableReturnsToVga)
{
	set_mode(kMode03);
	vbe(3, 8);
	vbe(1, 640);
	vbe(2, 480);
	vbe(4, 0x01);
	EXPECT_NE(nullptr, mem_ram_ptr(vm->mem, 0xa0000, 0x10000));
	vbe(4, 0x00);
	EXPECT_EQ(nullptr, mem_ram_ptr(vm->mem, 0xa0000, 0x10000));
	set_mode(kMode03);
	wb(0xb8000, 'Q');
	EXPECT_EQ('Q', plane(0, 0));
	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_EQ(VGA_KIND_TEXT, m.kind);
	EXPECT_FALSE(m.vbe);
}

// ---- change tracking ----

TEST_F(VgaTest, ChangeSerialIsQuietWhenIdle)
{
	set_mode(kMode03);
	uint64_t s0 = vga_poll_changes(v);
	EXPECT_EQ(s0, vga_poll_changes(v));
	cr(0x0e, 0); // same value as before: nothing changed
	in(0x3da);
	EXPECT_EQ(s0, vga_poll_changes(v));
	wb(0xb8000, 'x');
	uint64_t s1 = vga_poll_changes(v);
	EXPECT_NE(s0, s1);
	EXPECT_EQ(s1, vga_poll_changes(v));
	wb(0xb8000, 'x'); // same byte again
	EXPECT_EQ(s1, vga_poll_changes(v));
	cr(0x0f, 5);
	EXPECT_NE(s1, vga_poll_changes(v));
	// in VBE modes, writes that bypass the adapter (LFB) are seen too
	vga_pci_device(v)->bar_map(vga_pci_device(v), 0, PCI_BAR_UNMAPPED, 0xe0000000ull);
	vbe(3, 32);
	vbe(1, 640);
	vbe(2, 480);
	vbe(4, 0x41);
	uint64_t s2 = vga_poll_changes(v);
	EXPECT_EQ(s2, vga_poll_changes(v));
	uint8_t *fb = mem_ram_ptr(vm->mem, 0xe0000000ull, 4);
	ASSERT_NE(nullptr, fb);
	fb[100] = 1;
	EXPECT_NE(s2, vga_poll_changes(v));
}

TEST_F(VgaTest, GuestCannotReachOutsideVideoMemory)
{
	// hostile register values: huge offsets, start addresses, sizes; the
	// renderer may refuse a nonsense mode, but must not read out of bounds
	auto try_render = [&]() {
		struct vga_image img = {};
		int r = vga_render(v, &img);
		EXPECT_TRUE(r == 0 || r == -ENOTSUP) << r;
		vga_image_free(&img);
	};
	set_mode(kMode13);
	for (uint8_t i = 0; i < 0x19; i++)
		cr(i, 0xff);
	cr(0x11, 0x00);
	for (uint8_t i = 0; i < 0x19; i++)
		cr(i, 0xff);
	try_render();
	set_mode(kMode03);
	cr(0x13, 0xff);
	cr(0x0c, 0xff);
	cr(0x0d, 0xff);
	cr(0x09, 0x1f);
	sr(3, 0xff);
	try_render();
	struct vga_text t = {};
	vga_get_text(v, &t);
	vga_text_free(&t);
	vbe(3, 4);
	vbe(1, 1920);
	vbe(2, 1200);
	vbe(4, 0x01);
	vbe(5, 255);
	wb(0xaffff, 1);
	try_render();
	SUCCEED();
}

} // namespace

// What a direct (--kernel) boot leaves, standing in for the VGA BIOS: mode 3
// with the EGA palette and a blank screen; the font comes from the ROM, so
// without one the glyphs stay blank and the call says so.
TEST_F(VgaTest, BootTextModeWithoutRomHasNoFont)
{
	EXPECT_EQ(-ENOENT, vga_boot_text_mode(v));
	struct vga_mode m;
	vga_get_mode(v, &m);
	EXPECT_EQ(VGA_KIND_TEXT, m.kind);
	EXPECT_EQ(80u, m.cols);
	EXPECT_EQ(25u, m.rows);
	EXPECT_EQ(9u, m.char_w);
	EXPECT_EQ(16u, m.char_h);
	struct vga_text t = {};
	ASSERT_EQ(0, vga_get_text(v, &t));
	ASSERT_EQ(80u * 25, t.cols * t.rows);
	for (unsigned i = 0; i < t.cols * t.rows; i++) {
		EXPECT_EQ(' ', t.cell[i].ch) << i;
		EXPECT_EQ(0x07, t.cell[i].attr) << i;
	}
	vga_text_free(&t);
	// The same state as programming mode 3's registers by hand.
	EXPECT_EQ(kMode03.misc, v->misc);
	EXPECT_EQ(0, memcmp(v->sr, kMode03.sr, 5));
	EXPECT_EQ(0, memcmp(v->cr, kMode03.cr, 25));
	EXPECT_EQ(0, memcmp(v->gr, kMode03.gr, 9));
	EXPECT_EQ(0, memcmp(v->ar, kMode03.ar, 21));
}

TEST(VgaBoot, TextModeTakesTheRomFont)
{
	log_set_level(LOG_ERROR);
	struct vm *vm = static_cast<struct vm *>(calloc(1, sizeof(*vm)));
	ASSERT_EQ(0, mem_create(&vm->mem));
	ASSERT_EQ(0, ioport_create(&vm->io));
	ASSERT_EQ(0, clock_create(&vm->clock, CLOCK_MODE_ICOUNT));
	struct vga *v = nullptr;
	ASSERT_EQ(0, vga_create(vm, VGA_ROM_PATH, &v)) << "Debian's seabios package";
	ASSERT_EQ(0, vga_boot_text_mode(v));
	mem_write(vm->mem, 0xb8000, 'A', 1);
	mem_write(vm->mem, 0xb8001, 0x1f, 1); // white on blue
	ioport_write(vm->io, 0x3d4, 0x0a, 1);   // cursor off: it sits on this cell
	ioport_write(vm->io, 0x3d5, 0x20, 1);
	struct vga_image img = {};
	ASSERT_EQ(0, vga_render(v, &img));
	ASSERT_EQ(720u, img.width);
	unsigned lit = 0;
	for (int r = 0; r < 16; r++) {
		uint8_t row = v->vram[((size_t)'A' * 32 + r) * 4 + 2];
		for (int d = 0; d < 8; d++) {
			bool on = row & (0x80 >> d);
			lit += on;
			EXPECT_EQ(on ? 0xffffffu : 0x0000aau, img.pix[r * img.width + d])
				<< r << "," << d;
		}
	}
	EXPECT_GT(lit, 10u) << "the ROM's 'A' is drawn";
	vga_image_free(&img);
	vm_destroy(vm);
}
