import { buildProduct } from './lib/build-product.js';

/** `npm run build`: compiles the product's commands into `dist/` (see `lib/build-product.ts`). */
try {
  buildProduct();
} catch (error) {
  console.error(`The build failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
}
