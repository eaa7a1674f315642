/**
 * The template engine of the site: Eta over the templates in ./templates, every `<%= %>` escaped
 * (a value holding `<script>` is text on the page and in a feed); `<%~ %>` is kept for the body a
 * layout wraps, which the engine rendered and escaped already.
 */
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { EksdError } from '../../errors.ts';

export type TemplateName = 'home' | 'channel' | 'release' | 'feed';

const TEMPLATES = fileURLToPath(new URL('./templates', import.meta.url));

const eta = new Eta({ views: TEMPLATES, autoEscape: true, cache: true });

export function render(template: TemplateName, data: object): string {
  try {
    return eta.render(`./${template}`, data);
  } catch (cause) {
    throw new EksdError('SITE_READ', `the site template ${template}.eta failed: ${(cause as Error).message}`, {
      where: `${TEMPLATES}/${template}.eta`, hint: 'fix the template, then run eksd site to write every page again', cause,
    });
  }
}
