import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ChatPromptTemplate } from '@langchain/core/prompts';

/** The prompt templates of the generative mode. */
export interface Prompts {
  answer: ChatPromptTemplate;
  rewrite: ChatPromptTemplate;
}

/** Loads a system and a user template, `NAME-system.txt` and `NAME-user.txt`, as one chat prompt. */
export async function loadChatPrompt(directory: string, name: string): Promise<ChatPromptTemplate> {
  const [system, user] = await Promise.all(
    ['system', 'user'].map((part) => readFile(path.join(directory, `${name}-${part}.txt`), 'utf8')),
  );
  return ChatPromptTemplate.fromMessages([
    ['system', system ?? ''],
    ['human', user ?? ''],
  ]);
}

/** Reads the templates once, at start-up. */
export async function loadPrompts(directory: string): Promise<Prompts> {
  const [answer, rewrite] = await Promise.all([
    loadChatPrompt(directory, 'answer'),
    loadChatPrompt(directory, 'rewrite'),
  ]);
  return { answer, rewrite };
}
