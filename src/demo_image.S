/* The built-in demo guest's disk image, booted when no disk is given. */
	.section .rodata
	.global demo_image, demo_image_end
	.balign 512
demo_image:
	.incbin DEMO_IMG
demo_image_end:
	.section .note.GNU-stack,"",@progbits
