// Keeps the terminal fitted to the room it has: the window, the on-screen keyboard, the extra-keys row.

/**
 * Refits the terminal whenever its container changes size, and sizes the page to the visual
 * viewport, which the on-screen keyboard shrinks where the layout viewport stays as it was (iOS).
 */
export function fitToViewport({ fit, container }) {
  let frame = 0;
  new ResizeObserver(() => {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(() => fit.fit());
  }).observe(container);
  const viewport = window.visualViewport;
  if (!viewport) return;
  const follow = () => {
    // Pinch zoom shrinks the visual viewport too; then the page should zoom, not refit.
    if (Math.abs(viewport.scale - 1) > 0.01) return;
    const { style } = document.documentElement;
    style.setProperty('--viewport-height', `${viewport.height}px`);
    style.setProperty('--viewport-top', `${viewport.offsetTop}px`);
  };
  viewport.addEventListener('resize', follow);
  viewport.addEventListener('scroll', follow);
  follow();
}
