; pcvm's built-in demo guest: what `pcvm` boots when given no disk.
;
; A boot sector that loads the rest of this image with INT 13h, then, using
; only BIOS services and the standard PC hardware:
;   1. greets on COM1 (polled 16550 at 0x3F8) and on a VGA text screen that
;      shows off code page 437 and the 16 colours;
;   2. draws the Mandelbrot set in VGA mode 13h (320x200, 256 colours);
;   3. echoes typed keys (INT 16h) with their scancodes;
;   4. powers the PC off through ACPI: RSDP -> RSDT -> FACP -> PM1a_CNT, with
;      SLP_TYPa from the DSDT's \_S5 package (ACPI 6.4, sections 5.2.5-5.2.9
;      and 7.4.2), on `q` or by itself after a few seconds without a key.
; Each step waits a fixed number of BIOS timer ticks (0040:006C) unless a key
; is pressed, and nothing on screen depends on the date or time, so an
; unattended run shows the same screens every time.
;
; Build: nasm -f bin -o demo.img demo.asm   (a 32 KiB raw disk image)

bits 16
cpu 386
org 0x7c00

BANNER_TICKS  equ 55    ; ~3 s at 18.2 ticks/s
PICTURE_TICKS equ 55
IDLE_TICKS    equ 91    ; ~5 s without a key: power off

COM1 equ 0x3f8
TEXT_SEG equ 0xb800
GFX_SEG equ 0xa000
STACK_TOP equ 0x6000
ROWS equ 0x0600         ; loop counters, apart from the code
COLS equ 0x0602
PEEK equ 0x0700         ; one table header
RSDT equ 0x0800         ; the RSDT (0x0800-0x0fff)
RSDT_SIZE equ 0x0800
BUF equ 0x1000          ; scratch for ACPI tables (0x1000-0x4fff)
BUF_SIZE equ 0x4000

; ---------------------------------------------------------------- boot sector

boot:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, STACK_TOP       ; below the code's pages: pushes are not code writes
	jmp 0:.go
.go:	sti
	cld
	mov [boot_drive], dl
	mov si, 3               ; tries
.read:	mov ax, 0x0200 | PAYLOAD_SECTORS
	mov bx, payload
	mov cx, 0x0002          ; cylinder 0, sector 2
	xor dh, dh
	mov dl, [boot_drive]
	int 0x13
	jnc main
	xor ax, ax              ; reset the disk and try again
	int 0x13
	dec si
	jnz .read
	mov si, msg_disk_error
.say:	lodsb                   ; no serial_puts yet: it is not loaded
	test al, al
	jz .halt
	mov ah, 0x0e
	xor bx, bx
	int 0x10
	jmp .say
.halt:	cli
	hlt
	jmp .halt

msg_disk_error: db "pcvm demo: cannot read its own disk", 0
boot_drive: db 0

	times 510 - ($ - $$) db 0
	dw 0xaa55

; ---------------------------------------------------------------- the demo

payload:
main:
	call serial_init
	mov si, s_hello
	call serial_puts

	call banner_screen
	mov si, s_banner
	call serial_puts
	mov bx, BANNER_TICKS
	call wait_key
	jc .picture
	call quit_if_q

.picture:
	mov si, s_drawing
	call serial_puts
	call picture_screen
	mov si, s_picture
	call serial_puts
	mov bx, PICTURE_TICKS
	call wait_key
	jc .echo
	call quit_if_q

.echo:
	call echo_screen
	mov si, s_echo
	call serial_puts
.next_key:
	mov bx, IDLE_TICKS
	call wait_key
	jc .idle
	cmp al, 'q'
	je .bye
	call echo_key
	jmp .next_key
.idle:	mov ax, TEXT_SEG
	mov es, ax
	mov si, t_idle
	mov di, (20 * 80 + 4) * 2
	mov ah, 0x1e
	call put_str
	mov si, s_idle
	call serial_puts
	jmp poweroff
.bye:	mov ax, TEXT_SEG
	mov es, ax
	mov si, t_bye
	mov di, (20 * 80 + 4) * 2
	mov ah, 0x1e
	call put_str
	mov si, s_bye
	call serial_puts
	jmp poweroff

; A 'q' in the first two screens powers off too.
quit_if_q:
	cmp al, 'q'
	jne .ret
	mov ax, 0x0003
	int 0x10
	mov si, s_bye
	call serial_puts
	jmp poweroff
.ret:	ret

; ------------------------------------------------------------ screen 1: text

banner_screen:
	mov ax, 0x0003          ; 80x25 colour text, clears the screen
	int 0x10
	mov ah, 0x01            ; no cursor on this screen
	mov cx, 0x2000
	int 0x10
	mov ax, 0x1003          ; attribute bit 7: bright background, not blink
	xor bx, bx
	int 0x10
	mov ax, TEXT_SEG
	mov es, ax
	xor di, di              ; light grey on blue everywhere
	mov ax, 0x1720
	mov cx, 80 * 25
	rep stosw

	; a double-line frame
	mov di, (1 * 80 + 2) * 2
	mov ax, 0x1bc9
	stosw
	mov al, 0xcd
	mov cx, 74
	rep stosw
	mov al, 0xbb
	stosw
	mov bx, 2
.side:	mov ax, bx
	imul di, ax, 160
	add di, 2 * 2
	mov ax, 0x1bba
	stosw
	add di, 74 * 2
	stosw
	inc bx
	cmp bx, 23
	jb .side
	mov di, (23 * 80 + 2) * 2
	mov ax, 0x1bc8
	stosw
	mov al, 0xcd
	mov cx, 74
	rep stosw
	mov al, 0xbc
	stosw
	; a title set into the top edge
	mov si, t_title
	mov di, (1 * 80 + 31) * 2
	mov ah, 0x1e
	call put_str

	mov si, t_hello
	mov di, (3 * 80 + 6) * 2
	mov ah, 0x1f
	call put_str
	mov si, t_about
	mov di, (5 * 80 + 6) * 2
	mov ah, 0x17
	call put_str
	mov si, t_about2
	mov di, (6 * 80 + 6) * 2
	call put_str

	; memory as the BIOS reports it (INT 15h E801)
	mov si, t_mem
	mov di, (8 * 80 + 6) * 2
	mov ah, 0x17
	call put_str
	call memory_mib
	mov bl, 0x1e
	call put_dec
	mov si, t_mib
	mov ah, 0x17
	call put_str

	; code page 437: the pictures in 1-31 and the box-drawing set
	mov si, t_cp437
	mov di, (10 * 80 + 6) * 2
	call put_str
	mov di, (11 * 80 + 8) * 2
	mov al, 1
	mov ah, 0x1f
.low:	stosw
	inc al
	cmp al, 32
	jb .low
	mov si, t_boxes
	mov di, (12 * 80 + 8) * 2
	mov ah, 0x1f
	call put_raw

	; the 16 colours
	mov si, t_colours
	mov di, (14 * 80 + 6) * 2
	mov ah, 0x17
	call put_str
	mov di, (15 * 80 + 8) * 2
	xor bx, bx
.col:	mov ah, bl
	shl ah, 4
	or ah, 0x0f
	cmp bl, 7
	jb .dark
	and ah, 0xf0            ; black digits on light backgrounds
.dark:	mov al, ' '
	stosw
	mov al, [hex_digits + bx]
	stosw
	mov al, ' '
	stosw
	mov al, ' '
	stosw
	inc bx
	cmp bx, 16
	jb .col

	mov si, t_next
	mov di, (18 * 80 + 6) * 2
	mov ah, 0x17
	call put_str
	mov si, t_keys
	mov di, (21 * 80 + 6) * 2
	mov ah, 0x13
	call put_str
	ret

; INT 15h AX=E801: AX KiB between 1 and 16 MiB, BX 64 KiB blocks above.
; Returns AX = MiB of RAM in all, rounded up (the firmware keeps a little
; at the top for itself).
memory_mib:
	mov ax, 0xe801
	xor bx, bx
	xor cx, cx
	xor dx, dx
	int 0x15
	jc .none
	test ax, ax             ; some BIOSes answer in CX/DX instead
	jnz .have
	mov ax, cx
	mov bx, dx
.have:	movzx eax, ax
	movzx ebx, bx
	shl ebx, 6              ; KiB
	add eax, ebx
	add eax, 1024 + 1023    ; the first MiB, and round up
	shr eax, 10
	ret
.none:	xor ax, ax
	ret

; ------------------------------------------------------- screen 2: mode 13h

; The Mandelbrot set over [-2.2, 1.0] x [-1.2, 1.2] (a 4:3 window for the
; 4:3 screen) in 12-bit fixed point, escape time coloured through a
; 64-entry gradient at DAC entries 16-79; the set itself is black.
MAXIT equ 48
X0 equ -9011            ; -2.2 * 4096
Y0 equ -4915            ; -1.2 * 4096
DX_ equ 41              ; 3.2 / 320 * 4096
DY_ equ 49              ; 2.4 / 200 * 4096

picture_screen:
	mov ax, 0x0013
	int 0x10
	; the gradient
	mov dx, 0x3c8
	mov al, 16
	out dx, al
	inc dx
	mov si, gradient
	mov cx, 64 * 3
.pal:	lodsb
	out dx, al
	loop .pal

	; The loop keeps everything in registers; its counters live in low
	; memory away from the code, so no write lands in a page a CPU
	; emulator has translated. The iteration count rides in the upper
	; half of EDI, whose lower half is the pixel address.
	mov ax, GFX_SEG
	mov es, ax
	xor edi, edi
	mov ebp, Y0             ; c imaginary
	mov word [ROWS], 200
.row:	mov esi, X0             ; c real
	mov word [COLS], 320
.pixel:	xor ebx, ebx            ; zx
	xor ecx, ecx            ; zy
	and edi, 0xffff         ; no iterations yet
.iter:	mov eax, ebx
	imul eax, eax           ; zx^2, 24 fraction bits
	mov edx, ecx
	imul edx, edx           ; zy^2
	add eax, edx
	cmp eax, 4 << 24        ; |z| > 2: escaped
	jg .out
	sub eax, edx
	sub eax, edx
	sar eax, 12             ; zx^2 - zy^2, back to 12 bits
	mov edx, ebx
	imul edx, ecx
	sar edx, 11             ; 2 zx zy
	lea ecx, [edx + ebp]    ; zy' = 2 zx zy + cy
	lea ebx, [eax + esi]    ; zx' = zx^2 - zy^2 + cx
	add edi, 0x10000
	cmp edi, MAXIT << 16
	jb .iter
	xor al, al              ; inside the set
	jmp .plot
.out:	mov eax, edi           ; the gradient, three steps per iteration
	shr eax, 16
	imul ax, 3
	cmp ax, 63
	jbe .shade
	mov al, 63
.shade:	add al, 16
.plot:	stosb
	add esi, DX_
	dec word [COLS]
	jnz .pixel
	add ebp, DY_
	dec word [ROWS]
	jnz .row

	; captions with the BIOS font, drawn by the VGA BIOS
	mov si, g_title
	mov dx, 0x0001
	mov bl, 15
	call gfx_str
	mov si, g_caption
	mov dx, 0x1801
	mov bl, 7
	call gfx_str
	ret


; Writes the string at DS:SI from row DH, column DL in colour BL (mode 13h).
gfx_str:
	mov ah, 0x02
	xor bh, bh
	int 0x10
.next:	lodsb
	test al, al
	jz .done
	mov ah, 0x0e
	xor bh, bh
	int 0x10
	jmp .next
.done:	ret

%macro rgb 3
	db %1, %2, %3
%endmacro
gradient:
%assign i 0
%rep 16                 ; navy to blue
	rgb 0, 0, 12 + i * 2
%assign i i + 1
%endrep
%assign i 0
%rep 16                 ; blue to cyan
	rgb 0, i * 4, 44 + i
%assign i i + 1
%endrep
%assign i 0
%rep 16                 ; cyan to white
	rgb i * 4, 60 + i / 5, 59 + i / 4
%assign i i + 1
%endrep
%assign i 0
%rep 16                 ; white to gold
	rgb 63, 63 - i * 2, 62 - i * 4
%assign i i + 1
%endrep

; ------------------------------------------------------- screen 3: echo keys

echo_screen:
	mov ax, 0x0003
	int 0x10
	mov ax, TEXT_SEG
	mov es, ax
	xor di, di
	mov ax, 0x0720
	mov cx, 80 * 25
	rep stosw
	mov di, 0               ; a title bar
	mov ax, 0x3020
	mov cx, 80
	rep stosw
	mov si, t_echo_title
	mov di, 2 * 2
	mov ah, 0x30
	call put_str
	mov si, t_echo_help
	mov di, (3 * 80 + 4) * 2
	mov ah, 0x07
	call put_str
	mov si, t_echo_help2
	mov di, (4 * 80 + 4) * 2
	call put_str
	mov si, t_prompt
	mov di, (8 * 80 + 4) * 2
	mov ah, 0x0e
	call put_str
	mov byte [col], 0
	call place_cursor
	ret

col: db 0
INPUT_ROW equ 10
INPUT_COL equ 6
INPUT_LEN equ 68

place_cursor:
	mov ah, 0x02
	xor bh, bh
	mov dh, INPUT_ROW
	mov dl, [col]
	add dl, INPUT_COL
	int 0x10
	mov ah, 0x01            ; an underline cursor
	mov cx, 0x0d0e
	int 0x10
	ret

; Shows the key in AX (AL ASCII, AH scancode) on the input line and on
; COM1.
echo_key:
	push ax
	mov bx, TEXT_SEG
	mov es, bx
	cmp al, 8
	je .backspace
	cmp al, 13
	je .enter
	cmp al, 32
	jb .shown
	cmp byte [col], INPUT_LEN
	jb .room
	call clear_input
.room:	movzx di, byte [col]
	add di, INPUT_ROW * 80 + INPUT_COL
	shl di, 1
	mov ah, 0x0f
	stosw
	inc byte [col]
	jmp .shown
.backspace:
	cmp byte [col], 0
	je .shown
	dec byte [col]
	movzx di, byte [col]
	add di, INPUT_ROW * 80 + INPUT_COL
	shl di, 1
	mov ax, 0x0720
	stosw
	jmp .shown
.enter:	call clear_input
.shown:	call place_cursor
	pop ax
	; "last key: scancode XX, character XX"
	push ax
	mov si, t_last
	mov di, (13 * 80 + 4) * 2
	mov ah, 0x07
	call put_str
	pop ax
	push ax
	mov al, ah
	mov ah, 0x0b
	call put_hex
	mov si, t_char
	mov ah, 0x07
	call put_str
	pop ax
	push ax
	mov ah, 0x0b
	call put_hex
	; COM1: "key XX 'c'"
	mov si, s_key
	call serial_puts
	pop ax
	push ax
	xchg al, ah
	call serial_hex
	pop ax
	cmp al, 32
	jb .nl
	cmp al, 127
	jae .nl
	push ax
	mov al, ' '
	call serial_putc
	mov al, "'"
	call serial_putc
	pop ax
	call serial_putc
	mov al, "'"
	call serial_putc
.nl:	mov si, s_crlf
	call serial_puts
	ret

clear_input:
	mov di, (INPUT_ROW * 80 + INPUT_COL) * 2
	mov ax, 0x0720
	mov cx, INPUT_LEN + 1
	rep stosw
	mov byte [col], 0
	ret

; ------------------------------------------------------------ power off

poweroff:
	call acpi_poweroff
	; still here: tell and stop
	mov si, t_acpi_failed
	mov ax, TEXT_SEG
	mov es, ax
	mov di, (22 * 80 + 4) * 2
	mov ah, 0x4f
	call put_str
	mov si, s_acpi_failed
	call serial_puts
.halt:	cli
	hlt
	jmp .halt

; Finds the FADT and the \_S5 sleep type and enters S5. \_S5 is in the
; DSDT on some firmware and in an SSDT on others (SeaBIOS builds one with
; the sleep states): the DSDT is searched first, then each SSDT. Returns
; only if something is missing or the machine did not turn off.
acpi_poweroff:
	call find_rsdp
	jc .fail
	mov esi, [es:di + 16]   ; RSDT address
	mov di, RSDT
	mov cx, 36
	push esi
	call copy_phys          ; its header, for the length
	pop esi
	jc .fail
	mov ecx, [RSDT + 4]
	cmp ecx, RSDT_SIZE
	jbe .rsdt
	mov ecx, RSDT_SIZE
.rsdt:	mov di, RSDT
	call copy_phys          ; the whole RSDT
	jc .fail
	mov ecx, [RSDT + 4]
	cmp ecx, RSDT_SIZE
	jbe .count
	mov ecx, RSDT_SIZE
.count:	sub ecx, 36
	jbe .fail
	shr ecx, 2
	mov [tables], cx

	mov eax, 'FACP'
	call find_table         ; the FADT into BUF
	jc .fail
	mov eax, [BUF + 64]     ; PM1a_CNT_BLK
	mov [pm1a_cnt], ax
	mov eax, [BUF + 48]     ; SMI_CMD
	mov [smi_cmd], ax
	mov al, [BUF + 52]      ; ACPI_ENABLE
	mov [acpi_enable], al
	mov esi, [BUF + 40]     ; DSDT
	call read_table
	jc .fail
	call find_s5
	jnc .have_s5
	xor bx, bx              ; not in the DSDT: try each SSDT
.ssdt:	cmp bx, [tables]
	jae .fail
	push bx
	shl bx, 2
	mov esi, [RSDT + 36 + bx]
	call table_is_ssdt
	jc .next
	call read_table
	jc .next
	call find_s5
	jnc .found
.next:	pop bx
	inc bx
	jmp .ssdt
.found:	pop bx
.have_s5:
	cmp word [pm1a_cnt], 0
	je .fail
	; switch to ACPI mode first if the firmware left us in legacy mode
	mov dx, [pm1a_cnt]
	in ax, dx
	test al, 1              ; SCI_EN
	jnz .enabled
	mov dx, [smi_cmd]
	test dx, dx
	jz .enabled
	mov al, [acpi_enable]
	test al, al
	jz .enabled
	out dx, al
	mov cx, 0xffff
.wait:	mov dx, [pm1a_cnt]
	in ax, dx
	test al, 1
	jnz .enabled
	loop .wait
.enabled:
	mov dx, [pm1a_cnt]
	in ax, dx
	and ax, 0xc3ff          ; keep other bits, clear SLP_TYP
	mov bl, [slp_typ]
	and bx, 7
	shl bx, 10
	or ax, bx
	or ax, 1 << 13          ; SLP_EN
	out dx, ax
	mov bx, 18              ; give it a second
	call wait_key
.fail:	ret

; Reads the table the RSDT lists with signature EAX into BUF. CF if none.
find_table:
	xor bx, bx
.next:	cmp bx, [tables]
	jae .none
	push bx
	push eax
	shl bx, 2
	mov esi, [RSDT + 36 + bx]
	push esi
	mov di, PEEK
	mov cx, 36
	call copy_phys
	pop esi
	pop eax
	pop bx
	jc .none
	cmp [PEEK], eax
	je read_table
	inc bx
	jmp .next
.none:	stc
	ret

; Is the table at ESI an SSDT? CF if not. Keeps ESI.
table_is_ssdt:
	push esi
	mov di, PEEK
	mov cx, 36
	call copy_phys
	pop esi
	jc .no
	cmp dword [PEEK], 'SSDT'
	je .yes
.no:	stc
	ret
.yes:	clc
	ret

tables: dw 0
pm1a_cnt: dw 0
smi_cmd: dw 0
acpi_enable: db 0
slp_typ: db 0

; The RSDP: in the first KiB of the EBDA or in 0xE0000-0xFFFFF, on a 16-byte
; boundary, with a valid checksum. Returns ES:DI, CF on failure.
find_rsdp:
	push ds
	xor ax, ax
	mov ds, ax
	mov ax, [0x40e]         ; EBDA segment
	pop ds
	test ax, ax
	jz .bios
	mov es, ax
	xor di, di
	mov cx, 64
.ebda:	call is_rsdp
	jnc .found
	add di, 16
	loop .ebda
.bios:	mov ax, 0xe000
.seg:	mov es, ax
	xor di, di
	call is_rsdp
	jnc .found
	inc ax
	jnz .seg
	stc
.found:	ret

is_rsdp:
	cmp dword [es:di], 'RSD '
	jne .no
	cmp dword [es:di + 4], 'PTR '
	jne .no
	push ax
	push bx
	push cx
	xor bx, bx
	xor al, al
	mov cx, 20
.sum:	add al, [es:di + bx]
	inc bx
	loop .sum
	test al, al
	pop cx
	pop bx
	pop ax
	jnz .no
	clc
	ret
.no:	stc
	ret

; Copies the ACPI table at physical ESI into BUF (at most BUF_SIZE bytes).
read_table:
	push esi
	mov di, BUF
	mov cx, 36
	call copy_phys
	pop esi
	jc .ret
	mov ecx, [BUF + 4]
	cmp ecx, BUF_SIZE
	jbe .fits
	mov ecx, BUF_SIZE
.fits:	mov di, BUF
	call copy_phys
.ret:	ret

; Copies CX bytes (rounded up to words) from physical address ESI to DS:DI
; with INT 15h AH=87h, the BIOS's extended-memory block move.
copy_phys:
	pusha
	push es
	xor eax, eax
	mov ax, ds
	shl eax, 4
	movzx edx, di
	add eax, edx            ; destination, linear
	mov [gdt_dst + 2], ax
	shr eax, 16
	mov [gdt_dst + 4], al
	mov [gdt_dst + 7], ah
	mov eax, esi
	mov [gdt_src + 2], ax
	shr eax, 16
	mov [gdt_src + 4], al
	mov [gdt_src + 7], ah
	inc cx
	shr cx, 1
	push ds
	pop es
	mov si, gdt_move
	mov ah, 0x87
	int 0x15
	pop es
	popa
	ret

gdt_move:
	dq 0, 0
gdt_src: dw 0xffff, 0
	db 0, 0x93, 0, 0
gdt_dst: dw 0xffff, 0
	db 0, 0x93, 0, 0
	dq 0, 0

; Finds Name(_S5, Package(){ SLP_TYPa, ... }) in the DSDT in BUF and sets
; slp_typ. CF when absent.
find_s5:
	mov ecx, [BUF + 4]
	cmp ecx, BUF_SIZE
	jbe .len
	mov ecx, BUF_SIZE
.len:	lea dx, [ecx + BUF - 12]   ; last place a match can start
	mov si, BUF + 36
.scan:	cmp si, dx
	jae .no
	cmp dword [si], '_S5_'
	jne .next
	cmp byte [si - 1], 0x08 ; NameOp, possibly before a root prefix '\'
	je .pkg
	cmp byte [si - 1], 0x5c
	jne .next
	cmp byte [si - 2], 0x08
	jne .next
.pkg:	cmp byte [si + 4], 0x12 ; PackageOp
	jne .next
	mov al, [si + 5]        ; PkgLength: bits 7-6 count further bytes
	shr al, 6
	movzx bx, al
	add bx, si
	add bx, 7               ; past the op, the length and NumElements
	mov al, [bx]
	cmp al, 0x0a            ; BytePrefix
	jne .small
	mov al, [bx + 1]
.small:	cmp al, 0x07            ; ZeroOp is 0, OneOp 1: the value itself
	ja .next
	mov [slp_typ], al
	clc
	ret
.next:	inc si
	jmp .scan
.no:	stc
	ret

; ------------------------------------------------------------ helpers

; Waits up to BX timer ticks for a key. CF set on timeout, else AX = key
; (AL ASCII, AH scancode) taken from the BIOS buffer.
wait_key:
	push es
	movzx ebx, bx
	xor ax, ax
	mov es, ax
	mov ecx, [es:0x46c]
.poll:	mov ah, 0x01
	int 0x16
	jnz .key
	mov eax, [es:0x46c]
	sub eax, ecx            ; ticks since the start (wraps at midnight: fine)
	cmp eax, ebx
	jae .timeout
	sti
	hlt                     ; sleep until the next interrupt
	jmp .poll
.key:	xor ah, ah
	int 0x16
	pop es
	clc
	ret
.timeout:
	pop es
	stc
	ret

; Writes the zero-terminated string DS:SI at ES:DI (text segment) in
; attribute AH; DI advances.
put_str:
	lodsb
	test al, al
	jz .done
	stosw
	jmp put_str
.done:	ret

; The same for raw CP437 strings, where 0 ends but other low bytes are
; pictures.
put_raw equ put_str

; AX as a decimal number at ES:DI in attribute BL.
put_dec:
	push bx
	push cx
	push dx
	xor cx, cx
	mov si, 10
.div:	xor dx, dx
	div si
	push dx
	inc cx
	test ax, ax
	jnz .div
.out:	pop ax
	add al, '0'
	mov ah, bl
	stosw
	loop .out
	pop dx
	pop cx
	pop bx
	ret

; AL as two hex digits at ES:DI in attribute AH.
put_hex:
	push bx
	push ax
	mov bl, al
	shr bl, 4
	movzx bx, bl
	mov al, [hex_digits + bx]
	stosw
	pop ax
	push ax
	mov bl, al
	and bx, 15
	mov al, [hex_digits + bx]
	stosw
	pop ax
	pop bx
	ret

hex_digits: db "0123456789ABCDEF"

serial_init:
	mov dx, COM1 + 1
	xor al, al
	out dx, al              ; no interrupts
	mov dx, COM1 + 3
	mov al, 0x80
	out dx, al              ; divisor latch
	mov dx, COM1
	mov al, 1
	out dx, al              ; 115200 baud
	inc dx
	xor al, al
	out dx, al
	mov dx, COM1 + 3
	mov al, 0x03
	out dx, al              ; 8N1
	mov dx, COM1 + 2
	mov al, 0x07
	out dx, al              ; FIFOs on and cleared
	mov dx, COM1 + 4
	mov al, 0x03
	out dx, al              ; DTR, RTS
	ret

serial_putc:
	push cx
	push dx
	push ax
	mov dx, COM1 + 5
	mov cx, 0xffff          ; a missing UART must not hang us
.wait:	in al, dx
	test al, 0x20
	jnz .send
	loop .wait
.send:	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	pop cx
	ret

serial_puts:
	lodsb
	test al, al
	jz .done
	call serial_putc
	jmp serial_puts
.done:	ret

serial_hex:
	push ax
	shr al, 4
	movzx bx, al
	mov al, [hex_digits + bx]
	call serial_putc
	pop ax
	and al, 15
	movzx bx, al
	mov al, [hex_digits + bx]
	call serial_putc
	ret

; ------------------------------------------------------------ text

s_hello:  db 13, 10, "pcvm demo: hello from the guest", 13, 10, 0
s_banner: db "pcvm demo: text screen shown; press a key for the next one, q to power off", 13, 10, 0
s_picture: db "pcvm demo: Mandelbrot set drawn in VGA mode 13h", 13, 10, 0
s_drawing: db "pcvm demo: drawing the Mandelbrot set", 13, 10, 0
s_echo:   db "pcvm demo: echoing keys; q powers off, 5 s without a key too", 13, 10, 0
s_key:    db "pcvm demo: key ", 0
s_idle:   db "pcvm demo: no key for 5 seconds, powering off", 13, 10, 0
s_bye:    db "pcvm demo: q pressed, powering off", 13, 10, 0
s_acpi_failed: db "pcvm demo: ACPI power-off did not work; halted", 13, 10, 0
s_crlf:   db 13, 10, 0

t_title:  db 0xb5, " pcvm demo guest ", 0xc6, 0
t_hello:  db "Hello from inside the virtual machine!", 0
t_about:  db "This little program booted from the disk pcvm built into itself. It", 0
t_about2: db "talks to the BIOS, the VGA adapter, the keyboard and COM1.", 0
t_mem:    db "Memory reported by the BIOS: ", 0
t_mib:    db " MiB", 0
t_cp437:  db "Code page 437 pictures and box drawing:", 0
t_boxes:  db 0xda, 0xc4, 0xc2, 0xc4, 0xbf, " ", 0xc9, 0xcd, 0xcb, 0xcd, 0xbb, " "
	  db 0xb0, 0xb0, 0xb1, 0xb1, 0xb2, 0xb2, 0xdb, 0xdb, " "
	  db 0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8, 0xe9, 0xea, 0xeb, 0xec
	  db 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf2, 0xf3, " "
	  db 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x9b, 0x9c, 0x9d, 0, 0
t_colours: db "The sixteen text colours:", 0
t_next:   db "Next: a picture in VGA mode 13h. Any key goes on; q powers off.", 0
t_keys:   db "In pcvm's terminal display: Ctrl-A h for help, Ctrl-A x quits.", 0

g_title:  db "pcvm demo", 0
g_caption: db "VGA mode 13h: 320x200, 256 colours", 0

t_echo_title: db "pcvm demo guest - keyboard", 0
t_echo_help:  db "Type, and the guest echoes each key with its scancode (INT 16h).", 0
t_echo_help2: db "q powers the machine off through ACPI; so do 5 seconds without a key.", 0
t_prompt: db "Your keys:", 0
t_last:   db "Last key: scancode ", 0
t_char:   db ", character ", 0
t_idle:   db "No key for 5 seconds: powering off through ACPI.", 0
t_bye:    db "Goodbye: powering off through ACPI.            ", 0
t_acpi_failed: db "ACPI power-off did not work: the machine is halted.", 0

payload_end:
PAYLOAD_SECTORS equ (payload_end - payload + 511) / 512

	times 32768 - ($ - $$) db 0
